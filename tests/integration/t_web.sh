# SPDX-License-Identifier: BSD-2-Clause
# observability.web_config: TLS and basic auth on the metrics and console
# listener, in exporter-toolkit's file format (arbor.conf(5),
# OBSERVABILITY; arbord(8), SECURITY).

# web_files: a self-signed certificate for 127.0.0.1 and its key (0600),
# and $HASH, the bcrypt of "right" (cost 10, some 70 ms: a flood of wrong
# passwords must reach the thread's bcrypt budget).
web_files() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
		-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || fail "openssl req" || return 1
	chmod 600 "$T/key.pem"
	HASH=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("right", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))' 2>/dev/null)
	case $HASH in
	'$2b$10$'*) ;;
	*) echo "python3 has no crypt module with bcrypt here (it left in 3.13): no hash to test with"; return 77 ;;
	esac
}

# good_web: web.yml with the certificate (paths relative to the file) and
# alice.
good_web() {
	cat >"$T/web.yml" <<EOF
tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
basic_auth_users:
  alice: $HASH
EOF
}

web_conf() {
	PORT=${PORT:-$(free_port)}
	cat >"$T/tree.conf" <<CONF
observability = { metrics_listen = "127.0.0.1:$PORT"; web_config = "$T/web.yml"; };
tree = { strategy = "one_for_one"; intensity = 10; period = 10; children = (
	{ name = "w"; command = ["/bin/sleep", "1000"]; }
); };
CONF
}

# code ARGS... URL: the HTTP status curl got, 000 when none.
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
tls() { code --cacert "$T/cert.pem" "$@"; }

test_tls_and_basic_auth_guard_every_path() {
	web_files || return
	good_web
	web_conf
	start_arbord "$T/tree.conf" || return 1
	wait_for "the TLS listener" tls -u alice:right "https://127.0.0.1:$PORT/metrics" || return 1
	curl -sf --cacert "$T/cert.pem" -u alice:right "https://127.0.0.1:$PORT/metrics" >"$T/body" ||
		fail "scrape with the right password" || return 1
	grep -qx 'arbor_child_up{path="root/w"} 1' "$T/body" || fail "no metrics over TLS" || return 1
	assert_eq "right password, again (cached)" 200 "$(tls -u alice:right "https://127.0.0.1:$PORT/metrics")" || return 1
	assert_eq "wrong password" 401 "$(tls -u alice:wrong "https://127.0.0.1:$PORT/metrics")" || return 1
	assert_eq "unknown user" 401 "$(tls -u bob:right "https://127.0.0.1:$PORT/metrics")" || return 1
	assert_eq "no credentials" 401 "$(tls "https://127.0.0.1:$PORT/metrics")" || return 1
	curl -s -D "$T/headers" -o /dev/null --cacert "$T/cert.pem" "https://127.0.0.1:$PORT/metrics"
	grep -qi '^www-authenticate: basic realm="arbor"' "$T/headers" || fail "no WWW-Authenticate" || return 1
	# a flood of wrong passwords runs out of bcrypt attempts (429), while
	# the password remembered is still let in
	# (one curl, 30 requests: within a second even on a loaded machine)
	local i urls=() got
	for ((i = 0; i < 30; i++)); do urls+=("https://127.0.0.1:$PORT/metrics"); done
	got=$(curl -s -w '%{stderr}%{http_code} ' --max-time 10 --cacert "$T/cert.pem" -u alice:wrong "${urls[@]}" 2>&1 >/dev/null)
	case $got in *429*) ;; *) fail "no 429 after 30 wrong passwords in a row: $got" || return 1 ;; esac
	assert_eq "the remembered password during the flood" 200 "$(tls -u alice:right "https://127.0.0.1:$PORT/metrics")" || return 1
	# the console and its API too, as exporter-toolkit guards every path
	assert_eq "console without credentials" 401 "$(tls "https://127.0.0.1:$PORT/")" || return 1
	assert_eq "API without credentials" 401 "$(tls "https://127.0.0.1:$PORT/api/status")" || return 1
	# the sign-in link is https, and its session cookie is Secure (a
	# browser never sends it over plain HTTP)
	local url
	url=$(ctl console) || fail "arborctl console" || return 1
	case $url in "https://127.0.0.1:$PORT/login?token="*) ;; *) fail "sign-in link not https: $url" || return 1 ;; esac
	curl -s -D "$T/signin" -o /dev/null -c "$T/jar" --cacert "$T/cert.pem" -u alice:right "$url"
	grep -qi '^set-cookie: arbor_session=.*; Secure' "$T/signin" || fail "no Secure session cookie: $(cat "$T/signin")" || return 1
	assert_eq "the API, signed in and with basic auth" 200 "$(tls -b "$T/jar" -u alice:right "https://127.0.0.1:$PORT/api/status")" || return 1
	assert_eq "the API, signed in without basic auth" 401 "$(tls -b "$T/jar" "https://127.0.0.1:$PORT/api/status")" || return 1
	# plain HTTP to the TLS listener is never served
	assert_eq "plain http" 000 "$(code -u alice:right "http://127.0.0.1:$PORT/metrics")" || return 1
	# a client that does not trust the certificate gets nothing either
	assert_eq "untrusted certificate" 000 "$(code -u alice:right "https://127.0.0.1:$PORT/metrics")" || return 1
	ctl status root/w >/dev/null || fail "supervision after it all"
}

# check_says NEEDLE: arbord --check refuses $T/tree.conf naming NEEDLE, and
# so does a start.
check_says() {
	"$ARBORD" -c "$T/tree.conf" --check >"$T/check.out" 2>&1 && fail "--check took a bad web.yml: $1" && return 1
	grep -qF -- "$1" "$T/check.out" || fail "--check does not say '$1': $(cat "$T/check.out")" || return 1
	"$ARBORD" -c "$T/tree.conf" -s "$T/sock" >"$T/start.out" 2>&1 && fail "arbord started with a bad web.yml: $1" && return 1
	grep -qF -- "$1" "$T/start.out" || fail "the start does not say '$1': $(cat "$T/start.out")"
}

test_a_bad_web_config_is_an_error_with_its_line() {
	web_files || return
	web_conf
	printf 'tls_server_config:\n  cert_file: [cert.pem\n' >"$T/web.yml"
	check_says "$T/web.yml:3: syntax error" || return 1
	printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  alice: secret\n' >"$T/web.yml"
	check_says "$T/web.yml:5: basic_auth_users.alice: not a bcrypt hash" || return 1
	# a cost whose every wrong try would hold the thread for hours
	printf 'basic_auth_users:\n  alice: %s\n' "\$2b\$31\$${HASH:7}" >"$T/web.yml"
	check_says "$T/web.yml:2: basic_auth_users.alice: bcrypt cost 31 is over 16" || return 1
	printf 'tls_server_config:\n  cert_file: missing.pem\n  key_file: key.pem\n' >"$T/web.yml"
	check_says "$T/web.yml:2: tls_server_config.cert_file: cannot read \"$T/missing.pem\"" || return 1
	printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_ca_file: ca.pem\n' >"$T/web.yml"
	check_says "$T/web.yml:4: tls_server_config.client_ca_file: not supported" || return 1
	printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\ntls_config: {}\n' >"$T/web.yml"
	check_says "$T/web.yml:4: tls_config: unknown key" || return 1
	# a key that is not the certificate's
	openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out "$T/other.pem" 2>/dev/null
	chmod 600 "$T/other.pem"
	printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: other.pem\n' >"$T/web.yml"
	check_says "$T/web.yml:1: tls_server_config: " || return 1
	grep -q "do not match" "$T/check.out" || fail "mismatch not said: $(cat "$T/check.out")"
}

test_a_reload_applies_a_good_web_config_and_leaves_a_bad_one() {
	web_files || return
	good_web
	web_conf
	start_arbord "$T/tree.conf" || return 1
	wait_for "the TLS listener" tls -u alice:right "https://127.0.0.1:$PORT/metrics" || return 1
	printf 'basic_auth_users:\n  alice: secret\n' >"$T/web.yml"
	ctl reload >"$T/reload.out" 2>&1 && fail "reload took a bad web.yml" && return 1
	grep -qF "$T/web.yml:2: basic_auth_users.alice: not a bcrypt hash" "$T/reload.out" ||
		fail "reload does not name the line: $(cat "$T/reload.out")" || return 1
	assert_eq "TLS and alice, after the bad reload" 200 "$(tls -u alice:right "https://127.0.0.1:$PORT/metrics")" || return 1
	assert_eq "still no way in without her" 401 "$(tls "https://127.0.0.1:$PORT/metrics")" || return 1
	assert_eq "still no plain http" 000 "$(code "http://127.0.0.1:$PORT/metrics")" || return 1
	assert_eq "no bob yet" 401 "$(tls -u bob:right "https://127.0.0.1:$PORT/metrics")" || return 1
	# a good one applies at once: bob is let in, no restart
	good_web
	echo "  bob: $HASH" >>"$T/web.yml"
	ctl reload >"$T/reload.out" 2>&1 || fail "good reload: $(cat "$T/reload.out")" || return 1
	wait_for "bob let in after the reload" tls -u bob:right -f "https://127.0.0.1:$PORT/metrics" || return 1
	assert_eq "alice still" 200 "$(tls -u alice:right "https://127.0.0.1:$PORT/metrics")" || return 1
	log_has "observability.web_config: " || fail "the change is not logged" || return 1
	# and without tls_server_config, plain HTTP again
	printf 'basic_auth_users:\n  alice: %s\n' "$HASH" >"$T/web.yml"
	ctl reload >"$T/reload.out" 2>&1 || fail "reload to plain: $(cat "$T/reload.out")" || return 1
	wait_for "plain http with alice" code -f -u alice:right "http://127.0.0.1:$PORT/metrics" || return 1
	assert_eq "plain, no credentials" 401 "$(code "http://127.0.0.1:$PORT/metrics")"
}

# As root, arbord reads no web config through a path another user could
# change (a symlink of theirs, a file they own), and a file that is not a
# web config at all (one named by mistake) is not copied into its log.
test_root_reads_no_web_file_another_user_can_change() {
	[ "$(id -u)" = 0 ] || { echo "not root: the checks are root's"; return 77; }
	mkdir "$T/theirs"
	chown nobody "$T/theirs"
	chmod 755 "$T" "$T/theirs"
	ln -s /etc/shadow "$T/theirs/web.yml"
	chown -h nobody "$T/theirs/web.yml"
	web_conf
	sed -i "s|$T/web.yml|$T/theirs/web.yml|" "$T/tree.conf"
	check_says "goes through a symlink in $T/theirs, which another user owns" || return 1
	echo 'tls_server_config: {}' >"$T/theirs/own.yml"
	chown nobody "$T/theirs/own.yml"
	sed -i "s|$T/theirs/web.yml|$T/theirs/own.yml|" "$T/tree.conf"
	check_says "owned by uid $(id -u nobody), who could change it" || return 1
	# root named /etc/shadow itself: refused, and none of its lines shown
	sed -i "s|$T/theirs/own.yml|/etc/shadow|" "$T/tree.conf"
	check_says "/etc/shadow:1: (a key that is not a name): unknown key" || return 1
	! grep -q 'root:' "$T/check.out" || fail "a line of /etc/shadow in arbord's errors: $(cat "$T/check.out")"
}
