"""Password hashing with Argon2id (argon2-cffi's RFC 9106 defaults), and how guessable a password is."""
from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("gridsvc: no such user")


def hash_password(password: str) -> str:
    """An Argon2id hash of the password, salt and parameters included."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; always spends one Argon2 verification."""
    usable = bool(password_hash) and password_hash.startswith("$argon2")
    try:
        # An account without a usable password (imported, awaiting its invitation) costs the same
        # verification as any other, so timing tells nobody which accounts have no password yet.
        return _hasher.verify(password_hash if usable else _DUMMY_HASH, password) and usable
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Words anyone attacking this site would try first: its own name, the zone's, the volunteer app's,
# the roles, and the demo password published in earlier releases.
SITE_WORDS = ("gridsvc", "changshan", "zhangzhou", "huaqiao", "xiangli", "xianglixiangqin", "wangge", "grid",
              "patrol", "volunteer", "station", "manager", "admin", "demo", "2020", "gridsvc-demo-2020")
MIN_SCORE = 3  # zxcvbn's 0-4 scale: 3 is "safely unguessable" (about 10^8 guesses and more)
# zxcvbn's cost grows with the length; past this the first characters decide (already unguessable).
SCORED_PREFIX = 100


def guessability_score(password: str, *, own_words=()) -> int:
    """zxcvbn's score (0-4) of the password, the site's and the account's own words counted as known.

    Scored with and without punctuation and spaces, the lower counting: zxcvbn takes
    "gridsvc-demo-2020" for random characters between the dashes, "gridsvcdemo2020" for words.
    """
    from zxcvbn import zxcvbn

    words = [*SITE_WORDS, *(word for word in own_words if word)]
    text = password[:SCORED_PREFIX]
    squeezed = re.sub(r"[\W_]+", "", text)
    scores = [zxcvbn(text, user_inputs=words)["score"]]
    if squeezed and squeezed != text:
        scores.append(zxcvbn(squeezed, user_inputs=words)["score"])
    return min(scores)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
