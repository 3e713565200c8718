#!/usr/bin/env bash
# docs/DEPLOY.md tried on this machine: an internal CA, a server certificate, nginx configured from
# docs/deploy/nginx-gridsvc.conf in front of the production server (python -m gridsvc.server),
# and the pages fetched over https with only that CA trusted. Prints what it checked; exit 0 on success.
# Usage: scripts/https-smoke.sh   (make reliability runs it; needs nginx, openssl, curl: scripts/system-deps.sh test)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
work="$(mktemp -d)"
server_pid="" nginx_started=""
cleanup() {
  [ -n "$nginx_started" ] && nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -s stop 2>/dev/null || true
  [ -n "$server_pid" ] && kill -TERM -- "-$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
app_port=$(free_port) https_port=$(free_port) http_port=$(free_port)
name=grid.example.internal

# 1. The internal CA and a server certificate for the site's name (step 4 of the guide).
mkdir -p "$work/tls" "$work/nginx/logs" "$work/nginx/temp"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=gridsvc test CA" \
  -keyout "$work/tls/ca.key" -out "$work/tls/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$work/tls/server.key" -out "$work/tls/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$name" > "$work/tls/ext.cnf"
openssl x509 -req -in "$work/tls/server.csr" -CA "$work/tls/ca.crt" -CAkey "$work/tls/ca.key" -CAcreateserial \
  -days 30 -extfile "$work/tls/ext.cnf" -out "$work/tls/server.crt" 2>/dev/null

# 2. The guide's nginx site, with this run's ports and certificate paths.
sed -e "s#server 127.0.0.1:5000;#server 127.0.0.1:$app_port;#" \
    -e "s#listen 443 ssl http2;#listen 127.0.0.1:$https_port ssl http2;#" \
    -e "s#listen 80;#listen 127.0.0.1:$http_port;#" \
    -e "s#/etc/gridsvc/tls/#$work/tls/#g" \
    -e "s#/var/log/nginx/#$work/nginx/logs/#g" \
    "$root/docs/deploy/nginx-gridsvc.conf" > "$work/nginx/gridsvc.conf"
cat > "$work/nginx/nginx.conf" <<CONF
daemon on;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
user root;
events { worker_connections 256; }
http {
    access_log $work/nginx/logs/access.log;
    client_body_temp_path $work/nginx/temp/body;
    proxy_temp_path $work/nginx/temp/proxy;
    fastcgi_temp_path $work/nginx/temp/fastcgi;
    uwsgi_temp_path $work/nginx/temp/uwsgi;
    scgi_temp_path $work/nginx/temp/scgi;
    include $work/nginx/gridsvc.conf;
}
CONF
nginx -t -q -p "$work/nginx" -c "$work/nginx/nginx.conf"

# 3. The production server behind it, trusting only the proxy on loopback.
export GRIDSVC_DATABASE_URL="sqlite:///$work/gridsvc.sqlite" GRIDSVC_SECRET_KEY="https-smoke" \
       GRIDSVC_TRUSTED_PROXIES=127.0.0.1 GRIDSVC_SECURE_COOKIES=1 PYTHONPATH="$root"
(cd "$root" && "$python" -m flask --app gridsvc db upgrade >/dev/null)
( cd "$root" || exit 1; exec setsid "$python" -m gridsvc.server --host 127.0.0.1 --port "$app_port" >"$work/server.log" 2>&1 ) &
server_pid=$!
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
nginx_started=1

curl_tls() { curl --silent --show-error --max-time 20 --cacert "$work/tls/ca.crt" \
  --resolve "$name:$https_port:127.0.0.1" "$@"; }
for _ in $(seq 1 100); do
  curl_tls --fail -o /dev/null "https://$name:$https_port/healthz" 2>/dev/null && break
  sleep 0.2
done

fail() { echo "FAILED: $*" >&2; echo "--- server log" >&2; tail -20 "$work/server.log" >&2; exit 1; }
health=$(curl_tls "https://$name:$https_port/healthz") || fail "healthz over https"
[ "$health" = '{"ok":true,"database":"ok","schema":"ok"}' ] || fail "healthz answered $health"
echo "ok: https://$name/healthz through nginx, certificate of the internal CA verified: $health"

headers=$(curl_tls -D - -o "$work/login.html" "https://$name:$https_port/login") || fail "login page"
grep -q "^HTTP/2 200" <<<"$headers" || fail "login page status: $(head -1 <<<"$headers")"
grep -qi '^strict-transport-security:' <<<"$headers" || fail "no HSTS header"
grep -qi '^set-cookie:.*; *secure' <<<"$headers" || fail "session cookie without Secure"
grep -q 'name="csrf_token"' "$work/login.html" || fail "login form missing"
echo "ok: /login over HTTP/2, HSTS, Secure cookie, the sign-in form"

redirect=$(curl --silent -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/login") || fail "plain http"
[[ "$redirect" == "301 https://"* ]] || fail "plain http answered $redirect"
echo "ok: plain http is sent to https ($redirect)"

untrusted=$(curl --silent --max-time 20 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https_port/healthz" || true)
[ "$untrusted" = "000" ] || fail "a client without the CA connected ($untrusted)"
echo "ok: a client that does not trust the internal CA is refused"

big=$(head -c $((34 * 1024 * 1024)) /dev/zero | curl_tls -o /dev/null -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' --data-binary @- "https://$name:$https_port/api/v1/patrols") || true
[ "$big" = "413" ] || fail "a 34 MiB body answered $big"
echo "ok: a 34 MiB body is refused by nginx with 413 before it reaches gridsvc"

secret_key="smoke-key-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
tracker=$(curl_tls -o /dev/null -w '%{http_code}' \
  "https://$name:$https_port/api/v1/positions/osmand?id=$secret_key&lat=23.8817531&lon=117.3017531") || true
[ "$tracker" = "400" ] || fail "an unknown tracker answered $tracker"
grep -q "/api/v1/positions/osmand" "$work/nginx/logs/gridsvc-access.log" || fail "the tracker request is not in the access log"
if grep -R -q -e "$secret_key" -e "23.8817531" -e "117.3017531" "$work/nginx/logs" "$work/server.log"; then
  fail "a device key or a position reached a log"
fi
echo "ok: a tracker's key and position are in no log (nginx access log: path only)"

# With gridsvc down nginx logs an upstream error for every message: still no key, no position.
kill -TERM -- "-$server_pid" 2>/dev/null || kill -TERM "$server_pid" 2>/dev/null || true
for _ in $(seq 1 50); do
  curl --silent --max-time 1 -o /dev/null "http://127.0.0.1:$app_port/healthz" || break
  sleep 0.2
done
down=$(curl_tls -o /dev/null -w '%{http_code}' \
  "https://$name:$https_port/api/v1/positions/osmand?id=$secret_key&lat=23.8817531&lon=117.3017531") || true
[ "$down" = "502" ] || fail "a tracker message with gridsvc down answered $down"
if grep -R -q -e "$secret_key" -e "23.8817531" -e "117.3017531" "$work/nginx/logs"; then
  fail "an upstream error logged a key or a position"
fi
echo "ok: with gridsvc down, nginx answers 502 and logs neither the tracker's key nor its position"
