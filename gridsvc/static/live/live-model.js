// The live page's pure parts: how a patroller out now is described and ordered. No DOM here.

export const STATE_COLOURS = { online: '#2e7d32', stale: '#f9a825', offline: '#9e9e9e' };
const STATE_ORDER = { online: 0, stale: 1, offline: 2 };

/** "1:05" for 65 minutes, "0:07" for 7; seconds below a minute as "0:00". */
export function clock(seconds) {
  const minutes = Math.floor(Math.max(0, seconds) / 60);
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;
}

/** A short age: "45 s", "12 min", "3 h". */
export function age(seconds) {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

/** Fill {name} placeholders of a translated message. */
export function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** Online first, then stale, then offline; within a state the longest out first. */
export function ordered(patrollers) {
  return [...patrollers].sort((a, b) => (STATE_ORDER[a.state] - STATE_ORDER[b.state])
    || (b.session.elapsed_seconds - a.session.elapsed_seconds) || (a.volunteer.id - b.volunteer.id));
}

/** The list line of one patroller. */
export function describe(patroller, messages) {
  const seen = patroller.position ? fill(messages.last_seen, { ago: age(patroller.position.age_seconds) })
    : messages.never_seen;
  const kind = patroller.session.task ? `${messages.group}: ${patroller.session.task.title}` : messages[patroller.session.kind];
  return {
    name: patroller.volunteer.name,
    detail: `${patroller.session.station.name} · ${kind} · ${fill(messages.elapsed, { elapsed: clock(patroller.session.elapsed_seconds) })} · ${seen}`,
    state: patroller.state,
    stateText: messages[patroller.state],
    colour: STATE_COLOURS[patroller.state],
  };
}
