# scenarios.sh - one function per capture; sourced by make-captures.sh.
# Each scenario captures with tcpdump (or dumpcap), runs real mail software,
# and hands a JSON description to truth.py, which writes NAME.truth.json.

MSG=$LAB_DIR/messages

swaks_version() { swaks --version 2>/dev/null | sed -n 's/^swaks version \([0-9.]*\).*/\1/p' | head -1; }
msmtp_version() { msmtp --version 2>/dev/null | sed -n 's/^msmtp version \(.*\)/\1/p' | head -1; }
postfix_version() { postconf -d -h mail_version 2>/dev/null; }
dovecot_version() { dovecot --version 2>/dev/null | awk '{print $1}'; }
python_version() { $PY -c 'import platform; print(platform.python_version())'; }

# swaks in the client namespace; common options first
run_swaks() {  # run_swaks TRANSCRIPT ARGS...
    local out=$1; shift
    nsx "$NS_C" swaks --helo "$HELO" "$@" >"$out" 2>&1 || true
}

# swaks_delivery NAME IFACE MESSAGE CAPTURED_HOW WHAT : one message from alice@example.net to
# bob@example.org with swaks over plain SMTP, captured in the client's namespace on IFACE
# (CAP_SNAPLEN=n cuts each packet to n bytes)
swaks_delivery() {
    local name=$1 iface=$2 eml=$3 how=$4 what=$5; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" "$iface" "$OUT_DIR/$name.pcap"
    run_swaks "$t/swaks.txt" --server $S_IP --port 25 \
        --from alice@example.net --to bob@example.org --data "@$MSG/$eml"
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) -> Postfix $(postfix_version); $how",
 "scenario": "$what",
 "server_log": "$t/server.log",
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$S_IP:25",
               "messages": ["$MSG/$eml"]}]}
EOT
}
scenario_plain_delivery() {
    swaks_delivery plain-delivery c0 plain.eml "tcpdump on the client's interface" \
        "One message from alice@example.net to bob@example.org, delivered with swaks over plain SMTP (EHLO, MAIL, RCPT, DATA, QUIT)."
}

scenario_smtplib_delivery() {
    local name=smtplib-delivery; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    nsx "$NS_C" $PY "$LAB_DIR/smtplib_client.py" --server $S_IP --helo "$HELO" > "$t/smtplib.txt" 2>&1 || true
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "Python $(python_version) smtplib -> Postfix $(postfix_version); tcpdump on the client's interface",
 "scenario": "Three messages on one connection sent with Python smtplib (no RSET between them): one recipient, two recipients, and one with the null sender MAIL FROM:<>.",
 "server_log": "$t/server.log",
 "sessions": [{"format": "smtplib", "transcript": "$t/smtplib.txt", "leg": "direct", "server": "$S_IP:25"}]}
EOT
}

scenario_pipelining_rcpt_refused() {
    local name=pipelining-rcpt-refused; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    run_swaks "$t/swaks.txt" --server $S_IP --port 25 --pipeline \
        --from alice@example.net --to bob@example.org,nobody@example.org,carol@example.org \
        --data "@$MSG/pipelining.eml"
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) --pipeline -> Postfix $(postfix_version) (check_recipient_access refuses nobody@example.org); tcpdump on the client's interface",
 "scenario": "PIPELINING: MAIL and three RCPTs sent in one segment; the server refuses nobody@example.org with 550 and accepts the other two; the message is queued for the two accepted recipients.",
 "server_log": "$t/server.log",
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$S_IP:25",
               "messages": ["$MSG/pipelining.eml"]}]}
EOT
}

scenario_starttls() {
    local name=starttls; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    run_swaks "$t/swaks.txt" --server $S_IP --port 25 --tls \
        --from alice@example.net --to bob@example.org --data "@$MSG/starttls.eml"
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) --tls -> Postfix $(postfix_version) with a self-signed certificate made by OpenSSL $(openssl version | awk '{print $2}'); tcpdump on the client's interface",
 "scenario": "STARTTLS: EHLO in the clear, STARTTLS, 220, then TLS; the second EHLO and the whole transaction are encrypted (the transactions below are marked inside_tls and cannot be read from the capture).",
 "server_log": "$t/server.log",
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$S_IP:25",
               "messages": ["$MSG/starttls.eml"]}]}
EOT
}

scenario_auth() {  # scenario_auth MECH
    local mech=$1
    local name=auth-${mech,,}; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    local sessions=""
    if [[ $mech == LOGIN ]]; then
        # first attempt with a wrong password (535), then the right one
        run_swaks "$t/swaks-1.txt" --server $S_IP --port 25 --auth LOGIN \
            --auth-user alice@example.net --auth-password 'wrong-fake-password' \
            --from alice@example.net --to bob@example.org --data "@$MSG/auth-login.eml"
        sessions='{"format": "swaks", "transcript": "'$t/swaks-1.txt'", "leg": "direct", "server": "'$S_IP:25'"},'
    fi
    run_swaks "$t/swaks.txt" --server $S_IP --port 25 --auth "$mech" \
        --auth-user alice@example.net --auth-password "$FAKE_PASSWORD" \
        --from alice@example.net --to bob@example.org --data "@$MSG/$name.eml"
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    local what="One session: AUTH PLAIN with the test account alice@example.net (fake password '$FAKE_PASSWORD'), 235, then one message."
    [[ $mech == LOGIN ]] && what="Two sessions: AUTH LOGIN with a wrong password (535, swaks gives up and quits), then AUTH LOGIN with the test account's fake password '$FAKE_PASSWORD' (235) and one message."
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) --auth $mech -> Postfix $(postfix_version) with Dovecot $(dovecot_version) SASL (passwd-file); tcpdump on the client's interface",
 "scenario": "$what",
 "server_log": "$t/server.log",
 "sessions": [$sessions
              {"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$S_IP:25",
               "messages": ["$MSG/$name.eml"]}]}
EOT
}
scenario_auth_plain() { scenario_auth PLAIN; }
scenario_auth_login() { scenario_auth LOGIN; }

scenario_raw() {  # scenario_raw NAME SCRIPT DESCRIPTION [SESSIONS]
    local name=$1 script=$2 what=$3 count=${4:-1}; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    nsx "$NS_C" $PY "$LAB_DIR/raw_client.py" --server $S_IP --script "$script" --log "$t/events.jsonl" \
        2> "$t/client.err" || log "raw client: $(tail -1 "$t/client.err")"
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "lab raw socket client (Python $(python_version), raw_client.py --script $script) -> Postfix $(postfix_version); tcpdump on the client's interface",
 "scenario": "$what",
 "server_log": "$t/server.log",
 "sessions": [$(for ((i = 0; i < count; i++)); do ((i)) && printf ', '; printf '{"format": "events", "transcript": "%s", "leg": "direct", "server": "%s"}' "$t/events.jsonl" "$S_IP:25"; done)]}
EOT
}
scenario_helo_no_hostname() {
    scenario_raw helo-no-hostname helo-no-hostname \
        "A client that sends HELO without a hostname, gets 501 Syntax: HELO hostname, and gives up with QUIT (no transaction)."
}
scenario_careless_client() {
    scenario_raw careless-client careless \
        "Two sessions of a careless client. 1: HELO (so the server offers no extension), MAIL and RCPT pipelined anyway in one segment, then a message whose text is UTF-8 (8-bit) though MAIL did not say BODY=8BITMIME; queued. 2: EHLO, MAIL, RCPT, then the client aborts the connection with a TCP reset (SO_LINGER 0) in the middle of the transaction." 2
}
scenario_oversize_message() {
    # A small limit for this one scenario, so that the capture stays small.
    server_setting message_size_limit=100000
    scenario_raw oversize-message oversize \
        "A message larger than the SIZE the server offered in its EHLO reply (100000 octets here), sent without a SIZE parameter on MAIL: the server reads it to the end and refuses it with 552."
    server_setting message_size_limit=10240000
}
# server_setting NAME=VALUE... : change the server Postfix's main.cf and reload it
server_setting() {
    local kv
    for kv in "$@"; do nsx "$NS_S" postconf -c "$SRV/etc" -e "$kv"; done
    nsx "$NS_S" postfix -c "$SRV/etc" reload >/dev/null 2>&1
    sleep 1.5
}
scenario_long_silence() {
    # The server waits ten minutes (the lab's default is one); the client pauses five and a half.
    server_setting smtpd_timeout=600s
    scenario_raw long-silence pause \
        "EHLO, MAIL and RCPT, then 330 seconds of silence from the client (RFC 5321 §4.5.3.2 sets five minutes for these waits; this server allows ten), then DATA and a message that is queued."
    server_setting smtpd_timeout=60s
}
scenario_starttls_refused() {
    # TLS switched off for this one scenario: the server neither offers nor accepts STARTTLS.
    server_setting smtpd_tls_security_level=none
    scenario_raw starttls-refused starttls-refused \
        "A client sends STARTTLS to a server that did not offer it; the server answers 502, and the client sends its message in the clear."
    server_setting smtpd_tls_security_level=may
}
scenario_ehlo_refused() {
    # aiosmtpd (refusing EHLO through its handle_EHLO hook) on port 2525 of the server host;
    # Python smtplib calls ehlo() itself and then sendmail(), which never falls back to HELO.
    local name=ehlo-refused; local t=$WORK/$name
    mkdir -p "$t"
    bg "$NS_S" $PY "$LAB_DIR/aiosmtpd_server.py" --host $S_IP --port 2525 --refuse-ehlo
    local server=$LAST_PID
    wait_for_port "$NS_S" $S_IP 2525
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap" "tcp port 2525"
    nsx "$NS_C" $PY "$LAB_DIR/smtplib_client.py" --server $S_IP --port 2525 --helo "$HELO" --messages 1 > "$t/smtplib.txt" 2>&1 || true
    cap_stop
    stop_pid "$server"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "Python $(python_version) smtplib -> aiosmtpd $($PY -c 'import aiosmtpd; print(aiosmtpd.__version__)') answering EHLO with 502 (handle_EHLO hook); tcpdump on the client's interface",
 "scenario": "A server that refuses EHLO (502), as old SMTP-only servers do, and a client script that called smtplib's ehlo() itself before sendmail(): smtplib then never tries HELO, the server answers MAIL with 503 (send HELO first), and the client gives up.",
 "sessions": [{"format": "smtplib", "transcript": "$t/smtplib.txt", "leg": "direct", "server": "$S_IP:2525"}]}
EOT
}
scenario_auth_ntlm() {
    # aiosmtpd with an AUTH NTLM hook (aiosmtpd_server.py --ntlm) on port 2525 of the server
    # host; swaks authenticates with Authen::NTLM (Debian's libauthen-ntlm-perl). The server
    # writes the names the AUTHENTICATE message carried to its log, the truth's record of them.
    local name=auth-ntlm; local t=$WORK/$name
    mkdir -p "$t"
    bg "$NS_S" sh -c "exec $PY '$LAB_DIR/aiosmtpd_server.py' --host $S_IP --port 2525 --ntlm 2>'$t/server.log'"
    local server=$LAST_PID
    wait_for_port "$NS_S" $S_IP 2525
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap" "tcp port 2525"
    run_swaks "$t/swaks.txt" --server $S_IP --port 2525 --auth NTLM \
        --auth-user alice --auth-password "$FAKE_PASSWORD" --auth-extra domain=EXAMPLE \
        --from alice@example.net --to bob@example.org --data "@$MSG/$name.eml"
    cap_stop
    stop_pid "$server"
    finalize_pcap "$OUT_DIR/$name.pcap"
    local names
    names=$(sed -n 's/^ntlm user=\(.*\) domain=\(.*\) workstation=\(.*\)$/{"user": "\1", "domain": "\2", "workstation": "\3"}/p' "$t/server.log" | head -1)
    [[ -n $names ]] || die "auth-ntlm: the server logged no AUTHENTICATE message"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) --auth NTLM (Authen::NTLM $(dpkg-query -W -f='${Version}' libauthen-ntlm-perl)) -> aiosmtpd $($PY -c 'import aiosmtpd; print(aiosmtpd.__version__)') (aiosmtpd_server.py --ntlm) on port 2525; tcpdump on the client's interface",
 "scenario": "AUTH NTLM (MS-SMTPNTLM): an empty 334, the client's NEGOTIATE message, the server's CHALLENGE, the client's AUTHENTICATE message naming user alice in domain EXAMPLE (fake password '$FAKE_PASSWORD'), 235, then one message. The server accepts any AUTHENTICATE message and discards the message.",
 "notes": {"ntlm": $names, "about": "user, domain and workstation as the server read them from the AUTHENTICATE message (MS-NLMP 2.2.1.3)"},
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$S_IP:2525",
               "messages": ["$MSG/$name.eml"]}]}
EOT
}
scenario_snaplen_cut() {
    CAP_SNAPLEN=200 swaks_delivery snaplen-cut c0 snaplen.eml "tcpdump -s 200 on the client's interface (each packet cut to 200 bytes)" \
        "An ordinary delivery captured with a short snapshot length: the commands and replies fit in 200 bytes, the message's full-size segments do not, so most of the message is missing from the capture."
}
scenario_typed_session() {
    scenario_raw typed-session typed \
        "A session typed by hand: one character per TCP segment (TCP_NODELAY, pauses between keys), lower-case commands, 'mail from: <...>' with a space; one message queued."
}
scenario_bdat_chunking() {
    scenario_raw bdat-chunking bdat \
        "CHUNKING (RFC 3030): message 1 in two BDAT chunks and a final 'BDAT 0 LAST'; message 2 as MAIL, two RCPTs and 'BDAT n LAST' with its chunk pipelined in one segment; message 3 'BDAT n LAST' after the only recipient was refused (554)."
}

scenario_cooked_any() {
    swaks_delivery cooked-any any cooked.eml "tcpdump -i any (link type LINUX_SLL2) in the client's namespace" \
        "An ordinary delivery captured on the 'any' pseudo-interface: Linux cooked capture v2 frames instead of Ethernet."
}

scenario_ipv6_delivery() {
    local name=ipv6-delivery; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    run_swaks "$t/swaks.txt" -6 --server $S_IP6 --port 25 \
        --from alice@example.net --to bob@example.org --data "@$MSG/ipv6.eml"
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) -6 -> Postfix $(postfix_version); tcpdump on the client's interface",
 "scenario": "An ordinary delivery over IPv6 ($C_IP6 to $S_IP6).",
 "server_log": "$t/server.log",
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "[$S_IP6]:25",
               "messages": ["$MSG/ipv6.eml"]}]}
EOT
}

queue_empty() {  # queue_empty SPOOL : no message files left in the queue
    [[ -z $(find "$1/incoming" "$1/active" "$1/deferred" "$1/hold" "$1/maildrop" -type f 2>/dev/null | head -1) ]]
}

scenario_relay_connection_reuse() {
    local name=relay-connection-reuse; local t=$WORK/$name
    mkdir -p "$t"
    [[ -n ${RLY:-} ]] || setup_relay_postfix
    local i
    # three messages into the relay, which keeps them on hold
    for i in 1 2 3; do
        run_swaks "$t/submit-$i.txt" --server $R_IP --port 25 \
            --from alice@example.net --to bob@example.org --data "@$MSG/relay-$i.eml"
    done
    sleep 1
    local rly_mark
    rly_mark=$(stat -c %s "$RLY_LOG")
    log_mark
    cap_start "$NS_S" s0 "$OUT_DIR/$name.pcap" "tcp port 25 and host $R_IP"
    nsx "$NS_C" postsuper -c "$RLY/etc" -H ALL >/dev/null 2>&1
    nsx "$NS_C" postqueue -c "$RLY/etc" -f || log "postqueue -f failed"
    for i in $(seq 1 100); do queue_empty "$RLY/spool" && break; sleep 0.2; done
    # the cached connection is closed after smtp_connection_cache_time_limit (2 s):
    # wait until the server has logged a disconnect for every connect from the relay
    local conns discs
    for i in $(seq 1 60); do
        sleep 0.25
        conns=$(tail -c +"$((SRV_MARK + 1))" "$SRV_LOG" | grep -c "connect from unknown\[$R_IP\]" || true)
        discs=$(tail -c +"$((SRV_MARK + 1))" "$SRV_LOG" | grep -c "disconnect from unknown\[$R_IP\]" || true)
        ((conns > 0 && conns == discs * 2)) && break
    done
    sleep 0.5
    cap_stop
    log_slice "$t/server.log"
    tail -c +"$((rly_mark + 1))" "$RLY_LOG" > "$t/relay.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "Postfix $(postfix_version) (relay.example.net, smtp client with connection caching) -> Postfix $(postfix_version); tcpdump on the receiving server's interface",
 "scenario": "A relaying Postfix delivers three queued messages over one connection; before reusing the cached connection it sends RSET, so RSET precedes the second and third MAIL FROM. After the cache time limit (2 s) the relay closes the idle connection without QUIT. The transcript is the relay's own debug_peer log.",
 "server_log": "$t/server.log",
 "sessions": [{"format": "postfix-debug", "transcript": "$t/relay.log", "peer": "$S_IP", "leg": "direct",
               "server": "$S_IP:25", "client_ip": "$R_IP",
               "messages": ["$MSG/relay-1.eml", "$MSG/relay-2.eml", "$MSG/relay-3.eml"]}]}
EOT
}

scenario_large_message_impaired() {
    local name=large-message-impaired; local t=$WORK/$name
    mkdir -p "$t"
    $PY "$LAB_DIR/make_large_message.py" > "$t/large.eml"
    bg "$NS_I" $PY "$LAB_DIR/impair_bridge.py" --a i0 --b i1 --seed 2026 \
        --loss 0.02 --dup 0.01 --reorder 0.02 --log "$t/impairments.jsonl"
    local bridge=$LAST_PID
    sleep 1
    log_mark
    cap_start "$NS_S" s1 "$OUT_DIR/$name.pcap"
    run_swaks "$t/swaks.txt" --server $SI_IP --port 25 --local-interface $CI_IP --suppress-data \
        --from alice@example.net --to bob@example.org --data "@$t/large.eml"
    cap_stop
    stop_pid "$bridge"
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    local summary
    summary=$($PY -c '
import json,sys,collections
c=collections.Counter(json.loads(l)["action"] for l in open(sys.argv[1]) if l.strip())
print(json.dumps({"dropped": c["drop"], "duplicated": c["duplicate"], "reordered": c["reorder"],
                  "segments": [json.loads(l) for l in open(sys.argv[1]) if l.strip()]}))' "$t/impairments.jsonl")
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) -> Postfix $(postfix_version) across impair_bridge.py (seeded: 2 % loss, 1 % duplication, 2 % reordering of data segments, both directions); tcpdump on the server's interface",
 "scenario": "A 2 MB message (base64 attachment) over a link that drops, duplicates and reorders TCP data segments; the capture, taken at the server, shows gaps filled by retransmissions, duplicate segments and out-of-order segments. The message is still delivered once.",
 "server_log": "$t/server.log",
 "notes": {"impairments": $summary, "about": "segments lists every data segment the bridge dropped, duplicated or held back (reordered); in = the interface it arrived on (i0 client side, i1 server side)"},
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$SI_IP:25",
               "messages": ["$t/large.eml"]}]}
EOT
}

# scenario_two_clients NAME OVERLAP DESCRIPTION
#   Two client hosts ($C_IP and $C2_IP) send the same .eml ($MSG/NAME.eml)
#   with the same envelope and EHLO name, straight to Postfix.  Each client
#   waits TWO_PACE seconds before every command.  OVERLAP=1: the second
#   connects TWO_OFFSET seconds after the first (the dialogues interleave);
#   OVERLAP=0: the second starts after the first has closed.
TWO_PACE=0.1
TWO_OFFSET=0.05
scenario_two_clients() {
    local name=$1 overlap=$2 what=$3; local t=$WORK/$name
    mkdir -p "$t"
    local client=("$LAB_DIR/raw_client.py" --server $S_IP --script message --message "$MSG/$name.eml"
                  --helo "$HELO" --mail-from alice@example.net --rcpt-to bob@example.org --pace $TWO_PACE)
    log_mark
    cap_start "$NS_S" s0 "$OUT_DIR/$name.pcap"
    if ((overlap)); then
        # absolute start times, so that Python's start-up time does not matter
        local t1 t2 p1 p2
        read -r t1 t2 < <($PY -c "import time; a = time.time() + 1.0; print(f'{a:.6f} {a + $TWO_OFFSET:.6f}')")
        nsx "$NS_C" $PY "${client[@]}" --source $C_IP --start-at "$t1" --log "$t/events-1.jsonl" 2>"$t/client-1.err" &
        p1=$!
        nsx "$NS_C" $PY "${client[@]}" --source $C2_IP --start-at "$t2" --log "$t/events-2.jsonl" 2>"$t/client-2.err" &
        p2=$!
        wait "$p1" || log "raw client 1: $(tail -1 "$t/client-1.err")"
        wait "$p2" || log "raw client 2: $(tail -1 "$t/client-2.err")"
    else
        nsx "$NS_C" $PY "${client[@]}" --source $C_IP --log "$t/events-1.jsonl" 2>"$t/client-1.err" \
            || log "raw client 1: $(tail -1 "$t/client-1.err")"
        sleep 0.5
        nsx "$NS_C" $PY "${client[@]}" --source $C2_IP --log "$t/events-2.jsonl" 2>"$t/client-2.err" \
            || log "raw client 2: $(tail -1 "$t/client-2.err")"
    fi
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    local timing="the second client started $TWO_OFFSET s after the first, while the first was still in its dialogue"
    ((overlap)) || timing="the second client started after the first had closed its connection"
    local note="An independent direct session (no middlebox): a different client host sending the same message as the other session; both are delivered and queued separately."
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "lab raw socket client (Python $(python_version), raw_client.py --script message --pace $TWO_PACE), two processes from $C_IP and $C2_IP -> Postfix $(postfix_version); tcpdump on the server's interface",
 "scenario": "$what",
 "server_log": "$t/server.log",
 "notes": {"independent_sessions": "The two sessions are independent deliveries by two client hosts, straight to Postfix: there is no middlebox, nothing is relayed from one connection to the other, and the server queues the message twice (two queue ids). Same Message-ID, envelope, body and EHLO name in both.",
           "timing": "Each client waits $TWO_PACE s before every command; $timing."},
 "sessions": [{"format": "events", "transcript": "$t/events-1.jsonl", "leg": "direct", "server": "$S_IP:25",
               "client_ip": "$C_IP", "note": "$note"},
              {"format": "events", "transcript": "$t/events-2.jsonl", "leg": "direct", "server": "$S_IP:25",
               "client_ip": "$C2_IP", "note": "$note"}]}
EOT
}
scenario_two_clients_same_message() {
    scenario_two_clients two-clients-same-message 1 \
        "Two different client hosts ($C_IP and $C2_IP) send the very same message (same Message-ID, envelope, body and EHLO name) straight to Postfix at the same time: the second connects $TWO_OFFSET s after the first and the two dialogues interleave command by command. Two independent sessions, each queued."
}
scenario_two_clients_same_message_sequential() {
    scenario_two_clients two-clients-same-message-sequential 0 \
        "Two different client hosts ($C_IP and $C2_IP) send the very same message (same Message-ID, envelope, body and EHLO name) straight to Postfix, one after the other. Two independent sessions, each queued."
}

# --------------------------------------------------------------------------
# intercepting middlebox scenarios
# --------------------------------------------------------------------------
PROXY_PID=""
middlebox_on() {  # middlebox_on MODE SOURCE LOGFILE [extra proxy args]
    local mode=$1 source=$2 plog=$3; shift 3
    # Client connections to port 25 are redirected to the proxy; the server
    # leg (interface m1) is not connection-tracked, and the server's replies
    # to a transparent (client-addressed) socket are delivered locally.
    nsx "$NS_M" nft -f - <<'EON'
table ip smtplab {
  chain prerouting_raw {
    type filter hook prerouting priority raw;
    iifname "m1" notrack
  }
  chain output_raw {
    type filter hook output priority raw;
    oifname "m1" notrack
  }
  chain prerouting_mangle {
    type filter hook prerouting priority mangle;
    iifname "m1" tcp sport 25 meta mark set 1
  }
  chain prerouting_nat {
    type nat hook prerouting priority dstnat;
    iifname "m0" tcp dport 25 redirect to :10025
  }
}
EON
    local errf=$WORK/proxy-$mode.err
    ip netns exec "$NS_M" $PY "$LAB_DIR/smtp_middlebox.py" --mode "$mode" --source "$source" \
        --log "$plog" "$@" 2>"$errf" &
    PROXY_PID=$!
    BG_PIDS+=($PROXY_PID)
    local i
    for i in $(seq 1 50); do grep -q 'proxy ready' "$errf" && break; sleep 0.1; done
    grep -q 'proxy ready' "$errf" || die "proxy did not start: $(cat "$errf")"
}
middlebox_off() {
    stop_pid "$PROXY_PID"
    nsx "$NS_M" nft delete table ip smtplab
}

# scenario_middlebox NAME MODE SOURCE CLIENT DESCRIPTION MADE_BY [proxy args]
#   CLIENT: swaks:MESSAGE | swaks-tls-optional:MESSAGE | swaks-tls:MESSAGE | msmtp:MESSAGE | raw:SCRIPT
#   SERVER_CONNS (environment, default 1): server connections the proxy opens
#   for the one client connection (2 in reconnect mode).
#   TRUTH_NOTES (environment, optional): a JSON object written as "notes" in
#   the three truth files.
scenario_middlebox() {
    local name=$1 mode=$2 source=$3 client=$4 what=$5 made_by=$6; shift 6
    local sconns=${SERVER_CONNS:-1}
    local t=$WORK/$name
    mkdir -p "$t"
    middlebox_on "$mode" "$source" "$t/proxy.jsonl" "$@"
    log_mark
    local cl="$OUT_DIR/$name-client-leg.pcap" sl="$OUT_DIR/$name-server-leg.pcap" both="$OUT_DIR/$name-both-legs.pcapng"
    cap_start "$NS_M" m0 "$cl"
    cap_start "$NS_M" m1 "$sl"
    dumpcap_start "$NS_M" "$both" m0 m1
    local kind=${client%%:*} arg=${client#*:} fmt transcript cver
    case $kind in
        swaks|swaks-tls-optional|swaks-tls)
            local extra=()
            [[ $kind == swaks-tls-optional ]] && extra=(--tls-optional)
            [[ $kind == swaks-tls ]] && extra=(--tls)
            transcript=$t/swaks.txt; fmt=swaks; cver="swaks $(swaks_version)${extra:+ ${extra[*]}}"
            run_swaks "$transcript" --server $S_IP --port 25 "${extra[@]}" \
                --from alice@example.net --to bob@example.org --data "@$MSG/$arg.eml" ;;
        msmtp)
            transcript=$t/msmtp.txt; fmt=msmtp; cver="msmtp $(msmtp_version)"
            nsx "$NS_C" msmtp --debug --host=$S_IP --port=25 --domain="$HELO" --auth=off --tls=off \
                --from=alice@example.net bob@example.org < "$MSG/$arg.eml" > "$transcript" 2>&1 || true ;;
        raw)
            transcript=$t/events.jsonl; fmt=events; cver="lab raw socket client (raw_client.py --script $arg)"
            nsx "$NS_C" $PY "$LAB_DIR/raw_client.py" --server $S_IP --script "$arg" --log "$transcript" \
                2> "$t/client.err" || log "raw client: $(tail -1 "$t/client.err")" ;;
    esac
    # wait for the proxy to finish the server leg (store-and-forward replays late,
    # reconnect opens a second server connection)
    local i
    for i in $(seq 1 100); do
        (( $(grep -c '"leg": "server", "event": "close"' "$t/proxy.jsonl" || true) >= sconns )) && break
        sleep 0.1
    done
    sleep 0.3
    cap_stop
    middlebox_off
    log_slice "$t/server.log"
    finalize_pcap "$cl"; finalize_pcap "$sl"; finalize_pcap "$both"
    local made="$cver -> smtp_middlebox.py --mode $mode --source $source ($made_by) -> Postfix $(postfix_version)"
    local csess='{"format": "'$fmt'", "transcript": "'$transcript'", "leg": "client", "conn": 1}'
    local ssess='{"format": "proxy", "leg": "server", "conn": 1}' k
    if ((sconns > 1)); then
        ssess=""
        for k in $(seq 1 "$sconns"); do
            ssess+="${ssess:+, }"'{"format": "proxy", "leg": "server", "conn": 1, "server_conn": '$k'}'
        done
    fi
    local common='"server_log": "'$t/server.log'", "proxy_log": "'$t/proxy.jsonl'", "client_transcripts": ["'$transcript'"]'
    [[ -n ${TRUTH_NOTES:-} ]] && common+=', "notes": '$TRUTH_NOTES
    truth <<EOT
{"name": "$name-client-leg", "capture": "$name-client-leg.pcap", "pcap": "$cl",
 "made_with": "$made; tcpdump on the middlebox's client-facing interface",
 "scenario": "Client leg only (client <-> middlebox). $what",
 "also_in": ["$name-server-leg.pcap", "$name-both-legs.pcapng"], $common,
 "sessions": [$csess]}
EOT
    truth <<EOT
{"name": "$name-server-leg", "capture": "$name-server-leg.pcap", "pcap": "$sl",
 "made_with": "$made; tcpdump on the middlebox's server-facing interface",
 "scenario": "Server leg only (middlebox <-> server). $what",
 "also_in": ["$name-client-leg.pcap", "$name-both-legs.pcapng"], $common,
 "sessions": [$ssess]}
EOT
    truth <<EOT
{"name": "$name-both-legs", "capture": "$name-both-legs.pcapng", "pcap": "$both",
 "made_with": "$made; dumpcap on both of the middlebox's interfaces (pcapng, interface m0 = client side, m1 = server side)",
 "scenario": "Both legs in one file. $what",
 "also_in": ["$name-client-leg.pcap", "$name-server-leg.pcap"], $common,
 "sessions": [$csess, $ssess]}
EOT
}

scenario_middlebox_store_and_forward() {
    scenario_middlebox middlebox-store-and-forward store-and-forward client swaks:middlebox-store-and-forward \
        "A store-and-forward anti-virus scanner on the client host (server leg uses the client's address, new port): the client's MAIL and RCPT are relayed; its DATA is answered by the proxy's own 354, the message is held, the proxy answers 250 and 221 itself; the server leg gets RSET instead of DATA, a second RSET and NOOP keep-alives, and 4 s later the replayed MAIL, RCPT, DATA and message, then QUIT. The client's transcript never shows RSET. The server is 20 ms away (the proxy waits 20 ms before each line it sends there), so the replies the proxy relays take at least that long while its own 354 comes back at once." \
        "modelled on a store-and-forward outgoing-mail scanner" --hold 4 --keepalive 1 --server-delay 0.02
}
scenario_middlebox_inline_rewriter() {
    scenario_middlebox middlebox-inline-rewriter inline-rewriter client-port raw:vrfy \
        "An SMTP-inspecting firewall that rewrites bytes in place (server leg has the same addresses and ports as the client leg): the banner text is masked with asterisks, '250-STARTTLS' reaches the client as '250-XXXXXXXA', and the client's VRFY reaches the server as X characters of the same length, which the server answers with 500 (command not recognized)." \
        "modelled on an SMTP-inspecting firewall"
}
scenario_middlebox_starttls_answered() {
    scenario_middlebox middlebox-starttls-answered starttls-answered client swaks-tls-optional:middlebox-starttls-answered \
        "A scanner that cannot inspect TLS: the server offers STARTTLS, the client asks for it, the proxy answers '500 Unsupported command.' itself (the server never sees STARTTLS) and the client continues in the clear; the server's 221 reaches the client with the proxy's own text." \
        "modelled on an outgoing-mail scanner that answers STARTTLS itself"
}
scenario_middlebox_plain_relay() {
    scenario_middlebox middlebox-plain-relay plain-relay proxy msmtp:middlebox-plain-relay \
        "A transparent proxy that relays every byte unchanged over a new TCP connection from its own address ($M_S_IP): the two legs carry the same dialogue with different addresses, ports and timing." \
        "plain relay"
}
scenario_middlebox_reconnect() {
    SERVER_CONNS=2 scenario_middlebox middlebox-reconnect reconnect client swaks:middlebox-reconnect \
        "A scanner that retries on a new connection (server legs use the client's address, new ports): greeting, EHLO, MAIL and RCPT are relayed on a first server connection; the client's DATA is answered by the proxy's own 354, the message is held and the proxy answers 250 and 221 itself; the first server connection gets RSET and QUIT instead of DATA; about 1 s later the proxy opens a second server connection and replays EHLO, MAIL, RCPT, DATA and the message (queued), then QUIT. The client sees one connection, the server two." \
        "modelled on a scanner that retries delivery on a new connection" --retry-delay 1
}
scenario_middlebox_divergent() {
    # The receiving Postfix's header_checks REJECTs this message's Subject
    # (see setup_server_postfix), so the replayed message is refused with 550
    # after the client has been told 250 by the proxy.
    TRUTH_NOTES='{"divergent_outcome": "The two legs end differently for the same message. Client leg: the proxy answers the end of data with its own 250 (queued, no queue id) and the client is never told otherwise. Server leg: when the proxy replays the message, Postfix refuses it at the end of data with 550 5.7.1 (a header_checks REJECT on this message'"'"'s Subject, configured for this subject only), so the message is never queued."}' \
    scenario_middlebox middlebox-divergent store-and-forward client swaks:middlebox-divergent \
        "A store-and-forward scanner with divergent outcomes (server leg uses the client's address, new port): the client's MAIL and RCPT are relayed; its DATA is answered by the proxy's own 354, the message is held and the proxy answers 250 (no queue id) and 221 itself, so the client believes the message was accepted; the server leg gets RSET instead of DATA, a second RSET and NOOP keep-alives, and 4 s later the replayed MAIL, RCPT, DATA and message, which the server refuses at the end of data with '550 5.7.1 Message content rejected by policy', then QUIT. The client's transcript shows neither the RSET nor the 550." \
        "modelled on a store-and-forward outgoing-mail scanner whose later delivery is refused" --hold 4 --keepalive 1
}
scenario_middlebox_gives_up() {
    # A client that requires TLS meets the inline rewriter, which hides STARTTLS
    # ('250-XXXXXXXA'): swaks --tls sends EHLO, finds no STARTTLS and quits.
    scenario_middlebox middlebox-gives-up inline-rewriter client-port swaks-tls:middlebox-gives-up \
        "A client that requires TLS (swaks --tls) behind an SMTP-inspecting firewall that rewrites bytes in place (server leg has the same addresses and ports as the client leg): the banner text is masked with asterisks and '250-STARTTLS' reaches the client as '250-XXXXXXXA', so the client finds no STARTTLS and gives up: EHLO and QUIT are its only commands, and no message is sent." \
        "modelled on an SMTP-inspecting firewall"
}
scenario_middlebox_gives_up_new_port() {
    scenario_middlebox middlebox-gives-up-new-port inline-rewriter client swaks-tls:middlebox-gives-up \
        "As middlebox-gives-up, but the firewall opens its own server connection from the client's address with a new port (client leg and server leg differ in the client port only): the banner is masked, '250-STARTTLS' becomes '250-XXXXXXXA', the client (swaks --tls) sends EHLO and QUIT only, and no message is sent." \
        "modelled on an SMTP-inspecting firewall that proxies the connection"
}

# --------------------------------------------------------------------------
# one connection captured at two points: the workstation (c0) and the mail server (s0)
# --------------------------------------------------------------------------
# two_point_delivery NAME SERVER_IP EML : swaks -> Postfix, tcpdump on c0 and s0 at once
two_point_delivery() {
    local name=$1 dst=$2 eml=$3; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name-workstation.pcap"
    cap_start "$NS_S" s0 "$OUT_DIR/$name-mailserver.pcap"
    run_swaks "$t/swaks.txt" --server "$dst" --port 25 \
        --from alice@example.net --to bob@example.org --data "@$MSG/$eml"
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name-workstation.pcap"
    finalize_pcap "$OUT_DIR/$name-mailserver.pcap"
}

scenario_double_capture() {
    local name=double-capture; local t=$WORK/$name
    local ws=$OUT_DIR/$name-workstation.pcap ms=$OUT_DIR/$name-mailserver.pcap
    local dr=$OUT_DIR/$name-workstation-dropped.pcap
    two_point_delivery $name $S_IP double-capture.eml
    # The dropped copy: the middle one of the client's full-size segments (all of
    # them carry message body) is removed from the workstation capture.
    local frames=() drop fields seq_rel seq_raw len head ms_frame
    mapfile -t frames < <(tshark -r "$ws" -Y "ip.src==$C_IP && tcp.dstport==25 && tcp.len>=1000" -T fields -e frame.number)
    ((${#frames[@]} >= 3)) || die "$name: only ${#frames[@]} full-size data segments"
    drop=${frames[$((${#frames[@]} / 2))]}
    fields=$(tshark -r "$ws" -Y "frame.number==$drop" -T fields -e tcp.seq -e tcp.seq_raw -e tcp.len -e tcp.payload)
    read -r seq_rel seq_raw len head <<<"$fields"
    head=$($PY -c 'import sys; print(bytes.fromhex(sys.argv[1])[:60].decode("ascii", "replace").replace("\r", "\\r").replace("\n", "\\n").replace("\"", "\\\""))' "$head")
    ms_frame=$(tshark -r "$ms" -Y "ip.src==$C_IP && tcp.seq_raw==$seq_raw && tcp.len==$len" -T fields -e frame.number | head -1)
    editcap -F pcap "$ws" "$dr" "$drop"
    finalize_pcap "$dr"
    local what="One delivery (swaks -> Postfix, no proxy; the middle namespace only routes) captured at two points at once: on the workstation's interface and on the mail server's interface. The two files hold the same TCP connection (same addresses, ports and sequence numbers), with different timestamps."
    local sess='"sessions": [{"format": "swaks", "transcript": "'$t/swaks.txt'", "leg": "direct", "server": "'$S_IP:25'", "messages": ["'$MSG/double-capture.eml'"]}]'
    local made="swaks $(swaks_version) -> Postfix $(postfix_version)"
    truth <<EOT
{"name": "$name-workstation", "capture": "$name-workstation.pcap", "pcap": "$ws",
 "made_with": "$made; tcpdump on the client's interface c0 (the workstation), at the same time as on the server's",
 "scenario": "Workstation side. $what",
 "also_in": ["$name-mailserver.pcap", "$name-workstation-dropped.pcap"],
 "server_log": "$t/server.log", $sess}
EOT
    truth <<EOT
{"name": "$name-mailserver", "capture": "$name-mailserver.pcap", "pcap": "$ms",
 "made_with": "$made; tcpdump on the server's interface s0 (the mail server), at the same time as on the client's",
 "scenario": "Mail-server side. $what",
 "also_in": ["$name-workstation.pcap", "$name-workstation-dropped.pcap"],
 "server_log": "$t/server.log", $sess}
EOT
    truth <<EOT
{"name": "$name-workstation-dropped", "capture": "$name-workstation-dropped.pcap", "pcap": "$dr",
 "made_with": "$made; tcpdump on the client's interface c0, then editcap -F pcap (frame $drop removed)",
 "scenario": "The workstation capture of double-capture with one client-to-server segment in the middle of the message body removed (frame $drop of $name-workstation.pcap), as if the capture had dropped it. The TCP connection itself lost nothing: the segment was sent once, never retransmitted, and is in $name-mailserver.pcap (frame $ms_frame).",
 "also_in": ["$name-workstation.pcap", "$name-mailserver.pcap"],
 "notes": {"dropped_frame": $drop, "dropped_from": "$name-workstation.pcap",
           "dropped_tcp_seq_relative": $seq_rel, "dropped_tcp_seq_raw": $seq_raw, "dropped_tcp_len": $len,
           "dropped_payload_starts": "$head",
           "same_segment_in_mailserver_capture": {"file": "$name-mailserver.pcap", "frame": ${ms_frame:-null}},
           "about": "Frames after the removed one are numbered one lower than in $name-workstation.pcap. The server's ACKs for the missing bytes are still in the file."},
 "server_log": "$t/server.log", $sess}
EOT
}

scenario_nat_double_capture() {
    local name=nat-double-capture; local t=$WORK/$name
    local vip=198.51.100.100 snat_ports=61000-61999
    mkdir -p "$t"
    # The middle namespace becomes a NAT / TCP load balancer for this scenario
    # only: the client connects to a virtual address, which is translated to the
    # mail server (DNAT), and the client's address and port are translated to the
    # middle's own address and a port outside the client's ephemeral range (SNAT).
    nsx "$NS_M" nft -f - <<EON
table ip smtplab_nat {
  chain prerouting {
    type nat hook prerouting priority dstnat;
    iifname "m0" ip daddr $vip tcp dport 25 dnat to $S_IP:25
  }
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "m1" ip saddr $C_IP tcp dport 25 snat to $M_S_IP:$snat_ports
  }
}
EON
    nsx "$NS_M" conntrack -F >/dev/null 2>&1 || true
    two_point_delivery $name $vip nat-double-capture.eml
    # the NAT's own record of the connection (TIME_WAIT entry)
    nsx "$NS_M" conntrack -L -p tcp --orig-dst $vip --dport 25 > "$t/conntrack.txt" 2>/dev/null || true
    nsx "$NS_M" nft delete table ip smtplab_nat
    local nat
    nat=$($PY - "$t/conntrack.txt" "$vip" "$snat_ports" <<'EOP'
import json, re, sys
line = next((l.strip() for l in open(sys.argv[1]) if "dport=25" in l), "")
kv = re.findall(r"(src|dst|sport|dport)=(\S+)", line)
o, r = dict(kv[:4]), dict(kv[4:8])
print(json.dumps({
    "by": f"nftables in smtplab-middle: dnat {sys.argv[2]}:25 to 198.51.100.25:25, snat to 198.51.100.1:{sys.argv[3]}",
    "workstation_side": {"client": f"{o['src']}:{o['sport']}", "server": f"{o['dst']}:{o['dport']}"},
    "mailserver_side": {"client": f"{r['dst']}:{r['dport']}", "server": f"{r['src']}:{r['sport']}"},
    "conntrack": line}))
EOP
)
    local what="One delivery (swaks -> Postfix) through a NAT / TCP load balancer, captured on the workstation and on the mail server at once. The client connects to the virtual address $vip:25; the middle translates the destination to $S_IP:25 and the source to $M_S_IP with a new port. Both files hold the same byte stream (same SMTP dialogue, same TCP payload) with different addresses and ports; address_translation (the NAT's conntrack entry) pairs them."
    local made="swaks $(swaks_version) -> nftables NAT (nftables $(nft --version | awk '{print $2}')) -> Postfix $(postfix_version)"
    truth <<EOT
{"name": "$name-workstation", "capture": "$name-workstation.pcap", "pcap": "$OUT_DIR/$name-workstation.pcap",
 "made_with": "$made; tcpdump on the client's interface c0 (before the NAT)",
 "scenario": "Workstation side, before the NAT. $what",
 "also_in": ["$name-mailserver.pcap"], "server_log": "$t/server.log",
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$vip:25",
               "messages": ["$MSG/nat-double-capture.eml"], "nat": $nat}]}
EOT
    truth <<EOT
{"name": "$name-mailserver", "capture": "$name-mailserver.pcap", "pcap": "$OUT_DIR/$name-mailserver.pcap",
 "made_with": "$made; tcpdump on the server's interface s0 (after the NAT)",
 "scenario": "Mail-server side, after the NAT. $what",
 "also_in": ["$name-workstation.pcap"], "server_log": "$t/server.log",
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$S_IP:25",
               "messages": ["$MSG/nat-double-capture.eml"], "nat": $nat}]}
EOT
}

# --------------------------------------------------------------------------
# STARTTLS answered, then the dialogue in the clear
# --------------------------------------------------------------------------
scenario_plaintext_after_starttls() {
    # aiosmtpd --fake-starttls on a second address of the server host, port 25
    # (Postfix listens on 198.51.100.25 only).
    local name=plaintext-after-starttls; local t=$WORK/$name ip=198.51.100.26
    mkdir -p "$t"
    nsx "$NS_S" ip addr add $ip/24 dev s0
    bg "$NS_S" $PY "$LAB_DIR/aiosmtpd_server.py" --host $ip --port 25 --fake-starttls
    local server=$LAST_PID
    wait_for_port "$NS_S" $ip 25
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    nsx "$NS_C" $PY "$LAB_DIR/raw_client.py" --server $ip --script plaintext-after-starttls --log "$t/events.jsonl" \
        2> "$t/client.err" || log "raw client: $(tail -1 "$t/client.err")"
    cap_stop
    stop_pid "$server"
    nsx "$NS_S" ip addr del $ip/24 dev s0
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "lab raw socket client (Python $(python_version), raw_client.py --script plaintext-after-starttls) -> aiosmtpd $($PY -c 'import aiosmtpd; print(aiosmtpd.__version__)') (aiosmtpd_server.py --fake-starttls) on $ip:25; tcpdump on the client's interface",
 "scenario": "What a TLS-inspecting firewall's decrypted export looks like: EHLO, STARTTLS, '220 2.0.0 Ready to start TLS', and then no TLS handshake: EHLO again, MAIL, RCPT, DATA, the message and QUIT in the clear. Made with a server that answers STARTTLS with 220 and never starts TLS (its second EHLO reply no longer offers STARTTLS); the server accepts and discards the message (no queue id).",
 "notes": {"tls_started": false, "about": "STARTTLS was answered 220 but no TLS handshake followed; every byte after it is plain SMTP. Server: aiosmtpd on $ip:25 (a second address of the server host; Postfix has 198.51.100.25:25)."},
 "sessions": [{"format": "events", "transcript": "$t/events.jsonl", "leg": "direct", "server": "$ip:25"}]}
EOT
}

# --------------------------------------------------------------------------
# SMTP through a proxy tunnel (SOCKS5, SOCKS4, HTTP CONNECT), captured between client and proxy
# --------------------------------------------------------------------------
TUNNEL_PID=""
tunnel_proxy_on() {  # tunnel_proxy_on socks|http DIR
    local kind=$1 d=$2
    chmod 777 "$d"
    if [[ $kind == socks ]]; then
        cat > "$d/danted.conf" <<EOF
logoutput: $d/proxy.log
internal: $M_C_IP port = 1080
external: $M_S_IP
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
    from: 192.0.2.0/24 to: 0.0.0.0/0
    log: connect disconnect error
}
socks pass {
    from: 192.0.2.0/24 to: 198.51.100.0/24
    command: connect
    protocol: tcp
    log: connect disconnect error
}
EOF
        ip netns exec "$NS_M" danted -f "$d/danted.conf" -p "$d/danted.pid" -N 1 2>"$d/danted.err" &
        TUNNEL_PID=$!; BG_PIDS+=($TUNNEL_PID)
        wait_for_port "$NS_C" $M_C_IP 1080
    else
        touch "$d/proxy.log"; chown nobody "$d/proxy.log"
        cat > "$d/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 8888
Listen $M_C_IP
Timeout 60
LogFile "$d/proxy.log"
LogLevel Info
PidFile "$d/tinyproxy.pid"
MaxClients 10
Allow 192.0.2.0/24
ConnectPort 25
DisableViaHeader Yes
EOF
        ip netns exec "$NS_M" tinyproxy -d -c "$d/tinyproxy.conf" 2>"$d/tinyproxy.err" &
        TUNNEL_PID=$!; BG_PIDS+=($TUNNEL_PID)
        wait_for_port "$NS_C" $M_C_IP 8888
    fi
    sleep 0.5
    # the readiness probe is not part of the scenario's log
    : > "$d/proxy.log"
}

# scenario_tunnel NAME TYPE : curl smtp:// through the proxy to Postfix, captured on c0
scenario_tunnel() {
    local name=$1 type=$2; local t=$WORK/$name
    mkdir -p "$t"
    local kind=socks port=1080 args=() sw article=a
    [[ $type == HTTP* ]] && article=an
    case $type in
        SOCKS5) args=(--socks5 "$M_C_IP:1080") ;;
        SOCKS4) args=(--socks4 "$M_C_IP:1080") ;;
        "HTTP CONNECT") kind=http; port=8888; args=(--proxy "http://$M_C_IP:8888" --proxytunnel) ;;
    esac
    tunnel_proxy_on $kind "$t"
    if [[ $kind == socks ]]; then sw="Dante $(danted -v 2>&1 | sed -n 's/^Dante v\([0-9.]*[0-9]\).*/\1/p' | head -1) (danted)"
    else sw="tinyproxy $(tinyproxy -v 2>&1 | awk '{print $2}')"; fi
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap" "tcp port $port"
    nsx "$NS_C" env -u http_proxy -u https_proxy -u all_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY \
        curl -v -s --crlf --max-time 30 "${args[@]}" --url "smtp://$S_IP:25/$HELO" \
        --mail-from alice@example.net --mail-rcpt bob@example.org -T "$MSG/$name.eml" > "$t/curl.txt" 2>&1 || true
    cap_stop
    log_slice "$t/server.log"
    stop_pid "$TUNNEL_PID"
    finalize_pcap "$OUT_DIR/$name.pcap"
    local curlv
    curlv=$(curl --version | awk 'NR==1 {print $2}')
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "curl $curlv (smtp://, ${args[*]}) -> $sw on $M_C_IP:$port -> Postfix $(postfix_version); tcpdump on the client's interface (client <-> proxy only)",
 "scenario": "SMTP through $article $type proxy: the client opens a TCP connection to the proxy at $M_C_IP:$port, asks it for a tunnel to $S_IP:25 ($type handshake), and then speaks SMTP through the tunnel: greeting, EHLO, MAIL, RCPT, DATA, the message, QUIT. The capture is between the client and the proxy, so the TCP connection is 192.0.2.10 <-> $M_C_IP:$port; the proxy's own connection to the server (from $M_S_IP) is not in the file.",
 "server_log": "$t/server.log", "tunnel_proxy_log": "$t/proxy.log",
 "sessions": [{"format": "curl", "transcript": "$t/curl.txt", "leg": "client", "server": "$M_C_IP:$port",
               "messages": ["$MSG/$name.eml"],
               "proxy": {"type": "$type", "address": "$M_C_IP:$port", "target": "$S_IP:25", "software": "$sw"},
               "note": "curl -v does not print the QUIT it sends (and the 221 it reads) when it closes the connection at exit; the capture has them, and Postfix's disconnect line counts quit=1."}]}
EOT
}
scenario_socks5_proxy() { scenario_tunnel socks5-proxy SOCKS5; }
scenario_socks4_proxy() { scenario_tunnel socks4-proxy SOCKS4; }
scenario_http_connect_proxy() { scenario_tunnel http-connect-proxy "HTTP CONNECT"; }

# --------------------------------------------------------------------------
# raw 8-bit Subject headers (no RFC 2047)
# --------------------------------------------------------------------------
scenario_subject_8bit() {
    local name=subject-8bit; local t=$WORK/$name
    mkdir -p "$t"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    nsx "$NS_C" $PY "$LAB_DIR/smtplib_client.py" --server $S_IP --helo "$HELO" \
        --eml "$MSG/subject-8bit-cp1252.eml" --eml "$MSG/subject-8bit-latin9.eml" > "$t/smtplib.txt" 2>&1 || true
    cap_stop
    log_slice "$t/server.log"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "Python $(python_version) smtplib (sendmail with a bytes message, MAIL ... BODY=8BITMIME) -> Postfix $(postfix_version); tcpdump on the client's interface",
 "scenario": "Two messages on one connection whose Subject headers are raw 8-bit bytes, not RFC 2047 encoded. 1: 'Subject: What\\\\x92s new' with no charset declared anywhere (0x92 is the right single quotation mark in windows-1252: 'What\u2019s new'). 2: 'Subject: Price 100 \\\\xa4' in a message with 'Content-Type: text/plain; charset=iso-8859-15' (0xA4 is the euro sign in ISO-8859-15; in windows-1252 or ISO-8859-1 it would be the currency sign \u00a4). Both are queued.",
 "notes": {"subject_decoding": "subject is the expected text: decoded with the charset the message's Content-Type declares, else windows-1252; subject_bytes_hex is the Subject header's value as sent, byte for byte."},
 "server_log": "$t/server.log",
 "sessions": [{"format": "smtplib", "transcript": "$t/smtplib.txt", "leg": "direct", "server": "$S_IP:25"}]}
EOT
}

# --------------------------------------------------------------------------
# segmentation offload on the sender: super-frames in the capture
# --------------------------------------------------------------------------
scenario_tso_sender() {
    # For this scenario only: checksum offload, scatter-gather, TSO and GSO on for the
    # client's c0, so tcpdump on the sender sees the TCP stack's large segments before
    # they are cut up (here: by the router's m1, which has offload off).
    local sg_was
    sg_was=$(nsx "$NS_C" ethtool -k c0 | awk -F': ' '/^scatter-gather:/ {print $2}' | awk '{print $1}')
    nsx "$NS_C" ethtool -K c0 tx on sg on tso on gso on >/dev/null 2>&1 || die "ethtool -K c0 tso on failed"
    swaks_delivery tso-sender c0 tso-sender.eml \
        "tcpdump on the client's interface with TSO/GSO (and TX checksum offload) on for that interface" \
        "A 40 KB message captured on the sending host with TCP segmentation offload on: the capture has frames larger than the 1500-byte MTU (up to several MSS in one frame, with a correct IPv4 total length), and the client's outgoing frames carry unfinished TCP checksums (checksum offload). On the wire, after the router, the same bytes went as ordinary MTU-sized segments."
    nsx "$NS_C" ethtool -K c0 tx off tso off gso off sg "${sg_was:-on}" >/dev/null 2>&1 || true
}

# --------------------------------------------------------------------------
# SMTP on a port that is none of 25, 465, 587, 2525
# --------------------------------------------------------------------------
scenario_alt_port_detected() {
    local name=alt-port-detected; local t=$WORK/$name
    mkdir -p "$t"
    bg "$NS_S" $PY "$LAB_DIR/aiosmtpd_server.py" --host $S_IP --port 10026
    local server=$LAST_PID
    wait_for_port "$NS_S" $S_IP 10026
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap" "tcp port 10026"
    run_swaks "$t/swaks.txt" --server $S_IP --port 10026 \
        --from alice@example.net --to bob@example.org --data "@$MSG/$name.eml"
    cap_stop
    stop_pid "$server"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) -> aiosmtpd $($PY -c 'import aiosmtpd; print(aiosmtpd.__version__)') (aiosmtpd_server.py) on port 10026; tcpdump on the client's interface",
 "scenario": "An ordinary delivery to an SMTP server on port 10026 (as used for content-filter re-injection), a port that is none of 25, 465, 587 or 2525: only the dialogue itself says that it is SMTP. The server accepts and discards the message (no queue id).",
 "sessions": [{"format": "swaks", "transcript": "$t/swaks.txt", "leg": "direct", "server": "$S_IP:10026",
               "messages": ["$MSG/$name.eml"]}]}
EOT
}

# --------------------------------------------------------------------------
# TLS with key logs: each capture has NAME.keys (NSS key log, only the lines of
# that capture's TLS sessions) written by the client software itself (msmtp via
# GnuTLS's SSLKEYLOGFILE, Python's SSLContext.keylog_filename), and the truth
# has tshark's decryption of the capture with it (tshark_check).
# --------------------------------------------------------------------------
KEYLOG_LABELS='^(CLIENT_RANDOM|CLIENT_EARLY_TRAFFIC_SECRET|EARLY_EXPORTER_SECRET|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) [0-9a-fA-F]+ [0-9a-fA-F]+$'
keys_out() {  # keys_out OUT IN... : the key-log lines of the IN files (no comments), in order
    local out=$1; shift
    cat "$@" 2>/dev/null | grep -E "$KEYLOG_LABELS" > "$out" || true
    chmod 644 "$out"
}
gnutls_version() { dpkg-query -W -f='${Version}' libgnutls30 2>/dev/null | sed 's/-.*//'; }
openssl_lib_version() { $PY -c 'import ssl; print(ssl.OPENSSL_VERSION.split()[1])'; }

# run_msmtp_tls TRANSCRIPT KEYLOG PORT EML [msmtp options] : msmtp over STARTTLS to mx.example.org
# (the lab's hosts file gives its address), trusting the server's self-signed certificate
run_msmtp_tls() {
    local out=$1 keylog=$2 port=$3 eml=$4; shift 4
    nsx "$NS_C" env SSLKEYLOGFILE="$keylog" msmtp --debug --host=mx.example.org --port="$port" \
        --domain="$HELO" --tls=on --tls-starttls=on --tls-trust-file="$SRV/tls/cert.pem" \
        --from=alice@example.net "$@" bob@example.org < "$eml" > "$out" 2>&1 || true
}

# tls_direct NAME PORT MADE_WITH SCENARIO SESSIONS_JSON [decode-as] : capture/keys/truth around CLIENT_CMD
# The caller runs the clients between tls_capture_start and tls_capture_done.
tls_capture_start() {  # tls_capture_start NAME PORT
    TLS_NAME=$1; TLS_T=$WORK/$1
    mkdir -p "$TLS_T"
    log_mark
    cap_start "$NS_C" c0 "$OUT_DIR/$1.pcap" "tcp port $2"
}
tls_capture_done() {  # tls_capture_done KEYLOG...
    cap_stop
    log_slice "$TLS_T/server.log"
    finalize_pcap "$OUT_DIR/$TLS_NAME.pcap"
    keys_out "$OUT_DIR/$TLS_NAME.keys" "$@"
    log "wrote $TLS_NAME.keys ($(wc -l < "$OUT_DIR/$TLS_NAME.keys") lines)"
}

scenario_tls13_starttls_msmtp() {
    local name=tls13-starttls-msmtp
    tls_capture_start $name 25
    run_msmtp_tls "$TLS_T/msmtp.txt" "$TLS_T/keys.log" 25 "$MSG/$name.eml" --auth=off
    tls_capture_done "$TLS_T/keys.log"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "msmtp $(msmtp_version) (GnuTLS $(gnutls_version), SSLKEYLOGFILE) -> Postfix $(postfix_version) (OpenSSL $(openssl version | awk '{print $2}')); tcpdump on the client's interface",
 "scenario": "STARTTLS on port 25 with msmtp and GnuTLS's default priorities: EHLO and STARTTLS in the clear, then TLS 1.3; EHLO, MAIL, RCPT, DATA, the message and QUIT are encrypted. The client wrote its TLS secrets to $name.keys (SSLKEYLOGFILE), so the capture can be decrypted.",
 "server_log": "$TLS_T/server.log", "key_log": "$OUT_DIR/$name.keys",
 "sessions": [{"format": "msmtp", "transcript": "$TLS_T/msmtp.txt", "leg": "direct", "server": "$S_IP:25",
               "messages": ["$MSG/$name.eml"], "tls_check": {"keys": "$OUT_DIR/$name.keys"}}]}
EOT
}

scenario_tls12_starttls_chacha_msmtp() {
    local name=tls12-starttls-chacha-msmtp
    local prio='NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-RSA'
    tls_capture_start $name 587
    run_msmtp_tls "$TLS_T/msmtp.txt" "$TLS_T/keys.log" 587 "$MSG/$name.eml" \
        --tls-priorities="$prio" --auth=plain --user=alice@example.net --passwordeval="echo $FAKE_PASSWORD"
    tls_capture_done "$TLS_T/keys.log"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "msmtp $(msmtp_version) (GnuTLS $(gnutls_version), tls_priorities $prio, SSLKEYLOGFILE) -> Postfix $(postfix_version) submission service on port 587 (STARTTLS and AUTH required; Dovecot $(dovecot_version) SASL); tcpdump on the client's interface",
 "scenario": "Message submission on port 587: EHLO and STARTTLS in the clear, then TLS 1.2 with ECDHE-RSA and ChaCha20-Poly1305 (forced by msmtp's tls_priorities); inside TLS: EHLO, AUTH PLAIN with the lab's test account (fake password '$FAKE_PASSWORD'), MAIL, RCPT, DATA, the message, QUIT. The server's submission service requires STARTTLS and AUTH, and offers AUTH only inside TLS. The client wrote its TLS secret (CLIENT_RANDOM) to $name.keys.",
 "server_log": "$TLS_T/server.log", "key_log": "$OUT_DIR/$name.keys",
 "sessions": [{"format": "msmtp", "transcript": "$TLS_T/msmtp.txt", "leg": "direct", "server": "$S_IP:587",
               "messages": ["$MSG/$name.eml"], "tls_check": {"keys": "$OUT_DIR/$name.keys"}}]}
EOT
}

# run_smtplib_tls TRANSCRIPT ARGS... : the lab's smtplib TLS client in the client namespace
run_smtplib_tls() {
    local out=$1; shift
    nsx "$NS_C" $PY "$LAB_DIR/smtplib_tls_client.py" --helo "$HELO" "$@" > "$out" 2>&1 || true
}

scenario_tls12_implicit_cbc_smtplib() {
    local name=tls12-implicit-cbc-smtplib
    tls_capture_start $name 465
    run_smtplib_tls "$TLS_T/smtplib-1.txt" --server mx.example.org --port 465 --tls implicit \
        --cafile "$SRV/tls/cert.pem" --keylog "$TLS_T/keys-1.log" --max-version TLSv1_2 \
        --ciphers ECDHE-RSA-AES128-SHA256 --eml "$MSG/$name-1.eml" --eml "$MSG/$name-2.eml"
    sleep 0.5
    run_smtplib_tls "$TLS_T/smtplib-2.txt" --server mx.example.org --port 465 --tls implicit \
        --cafile "$SRV/tls/cert.pem" --keylog "$TLS_T/keys-2.log" --max-version TLSv1_2 \
        --ciphers ECDHE-RSA-AES256-SHA --no-etm --eml "$MSG/$name-3.eml"
    tls_capture_done "$TLS_T/keys-1.log" "$TLS_T/keys-2.log"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "Python $(python_version) smtplib SMTP_SSL (OpenSSL $(openssl_lib_version), SSLContext.keylog_filename; lab/smtplib_tls_client.py) -> Postfix $(postfix_version) smtps service on port 465 (smtpd_tls_wrappermode=yes); tcpdump on the client's interface",
 "scenario": "Implicit TLS on port 465 (TLS from the first byte, no STARTTLS), TLS 1.2 with AES-CBC suites. Session 1: ECDHE-RSA-AES128-SHA256 (HMAC-SHA256), the client offers Encrypt-then-MAC and the server accepts it; two messages on the one connection (no RSET between them). Session 2: ECDHE-RSA-AES256-SHA (HMAC-SHA1), the client does not offer Encrypt-then-MAC (SSL_OP_NO_ENCRYPT_THEN_MAC), so records are MAC-then-encrypt; one message. The lab networks need no AUTH on 465. The client wrote both sessions' secrets (CLIENT_RANDOM) to $name.keys.",
 "server_log": "$TLS_T/server.log", "key_log": "$OUT_DIR/$name.keys",
 "sessions": [{"format": "smtplib", "transcript": "$TLS_T/smtplib-1.txt", "leg": "direct", "server": "$S_IP:465",
               "implicit_tls": true, "tls_check": {"keys": "$OUT_DIR/$name.keys"}},
              {"format": "smtplib", "transcript": "$TLS_T/smtplib-2.txt", "leg": "direct", "server": "$S_IP:465",
               "implicit_tls": true, "tls_check": {"keys": "$OUT_DIR/$name.keys"}}]}
EOT
}

scenario_tls12_starttls_gcm_smtplib() {
    local name=tls12-starttls-gcm-smtplib
    tls_capture_start $name 25
    run_smtplib_tls "$TLS_T/smtplib.txt" --server mx.example.org --port 25 --tls starttls \
        --cafile "$SRV/tls/cert.pem" --keylog "$TLS_T/keys.log" --max-version TLSv1_2 \
        --ciphers ECDHE-RSA-AES128-GCM-SHA256 --eml "$MSG/$name.eml"
    tls_capture_done "$TLS_T/keys.log"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "Python $(python_version) smtplib starttls() (OpenSSL $(openssl_lib_version), SSLContext.keylog_filename; lab/smtplib_tls_client.py) -> Postfix $(postfix_version); tcpdump on the client's interface",
 "scenario": "STARTTLS on port 25 with Python smtplib: EHLO and STARTTLS in the clear, then TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256 (the client's only suite, maximum version TLS 1.2); inside TLS: EHLO, MAIL, RCPT, DATA, the message, QUIT. The client wrote its TLS secret (CLIENT_RANDOM) to $name.keys.",
 "server_log": "$TLS_T/server.log", "key_log": "$OUT_DIR/$name.keys",
 "sessions": [{"format": "smtplib", "transcript": "$TLS_T/smtplib.txt", "leg": "direct", "server": "$S_IP:25",
               "tls_check": {"keys": "$OUT_DIR/$name.keys"}}]}
EOT
}

scenario_tls_handshake_failed() {
    local name=tls-handshake-failed
    local prio='NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA'
    # a root CA that did not issue the server's certificate
    local ca=$WORK/$name-other-ca
    mkdir -p "$ca"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Lab Other Root CA" \
        -keyout "$ca/key.pem" -out "$ca/cert.pem" >/dev/null 2>&1
    tls_capture_start $name 25
    # 1: msmtp that allows only ECDSA-authenticated key exchange (the server has an RSA certificate)
    run_msmtp_tls "$TLS_T/msmtp.txt" "$TLS_T/keys-1.log" 25 "$MSG/$name.eml" --auth=off \
        --tls-priorities="$prio"
    sleep 0.5
    # 2: smtplib that verifies the server's certificate against the wrong CA
    run_smtplib_tls "$TLS_T/smtplib.txt" --server mx.example.org --port 25 --tls starttls \
        --cafile "$ca/cert.pem" --keylog "$TLS_T/keys-2.log" --eml "$MSG/$name.eml"
    tls_capture_done "$TLS_T/keys-1.log" "$TLS_T/keys-2.log"
    local e1 e2
    e1=$(grep -m1 '^msmtp: ' "$TLS_T/msmtp.txt" | $PY -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')
    e2=$(grep -m1 '^=== error: ' "$TLS_T/smtplib.txt" | sed 's/^=== error: //' | $PY -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "msmtp $(msmtp_version) (GnuTLS $(gnutls_version)) and Python $(python_version) smtplib (OpenSSL $(openssl_lib_version); lab/smtplib_tls_client.py) -> Postfix $(postfix_version) (OpenSSL $(openssl version | awk '{print $2}')); tcpdump on the client's interface",
 "scenario": "Two STARTTLS sessions whose TLS handshake fails; no message is sent. 1: msmtp allowed only TLS 1.2 with ECDHE-ECDSA key exchange (tls_priorities $prio); the server has only an RSA certificate, finds no shared cipher suite and refuses the ClientHello with a handshake_failure alert, and msmtp gives up. 2: Python smtplib verifies the server's certificate against a root CA that did not issue it (Lab Other Root CA); the TLS 1.3 handshake runs until the server's Certificate, CertificateVerify and Finished have arrived, then the client aborts with a fatal unknown_ca alert and closes the connection without QUIT (Postfix logs 'SSL_accept error' and 'lost connection after STARTTLS'). The client had not yet installed its own handshake keys, so its alert went in the clear (an unencrypted alert record). $name.keys holds the one secret the client had written, SERVER_HANDSHAKE_TRAFFIC_SECRET of session 2, which is enough to decrypt the server's EncryptedExtensions, Certificate, CertificateVerify and Finished; session 1 has no key-log lines (the handshake never got as far as a secret). tls is false for both sessions: STARTTLS was answered 220, but no TLS session was established.",
 "server_log": "$TLS_T/server.log", "key_log": "$OUT_DIR/$name.keys",
 "sessions": [{"format": "msmtp", "transcript": "$TLS_T/msmtp.txt", "leg": "direct", "server": "$S_IP:25",
               "tls_check": {"keys": "$OUT_DIR/$name.keys"},
               "extra": {"tls": false, "tls_failure": {"stage": "ClientHello refused by the server", "client_error": $e1,
                                         "why": "the client offered only ECDHE-ECDSA cipher suites (TLS 1.2); the server has an RSA certificate only, so there is no shared cipher suite"}}},
              {"format": "smtplib", "transcript": "$TLS_T/smtplib.txt", "leg": "direct", "server": "$S_IP:25",
               "tls_check": {"keys": "$OUT_DIR/$name.keys"},
               "extra": {"tls": false, "tls_failure": {"stage": "server certificate rejected by the client", "client_error": $e2,
                                         "why": "the client verifies the server's certificate against Lab Other Root CA; the server's certificate is self-signed (CN=mx.example.org)"}}}]}
EOT
}

# A TLS-intercepting mail shield (smtp_middlebox.py --mode tls-shield) between
# msmtp and Postfix: two TLS sessions, each with its own key log.
scenario_tls_intercepting_shield() {
    local name=tls-intercepting-shield; local t=$WORK/$name
    mkdir -p "$t/shield"
    chmod 755 "$t/shield"
    local ca=$t/shield/ca.pem cakey=$t/shield/ca.key leafkey=$t/shield/leaf.key
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Lab Mail Shield Root CA" \
        -keyout "$cakey" -out "$ca" >/dev/null 2>&1
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$leafkey" >/dev/null 2>&1
    middlebox_on tls-shield client "$t/proxy.jsonl" --shield-ca-cert "$ca" --shield-ca-key "$cakey" \
        --shield-leaf-key "$leafkey" --server-ca "$SRV/tls/cert.pem" --workdir "$t/shield" \
        --keylog-client-leg "$t/shield-client-leg.log" --keylog-server-leg "$t/shield-server-leg.log"
    log_mark
    local cl="$OUT_DIR/$name-client-leg.pcap" sl="$OUT_DIR/$name-server-leg.pcap" both="$OUT_DIR/$name-both-legs.pcapng"
    cap_start "$NS_M" m0 "$cl"
    cap_start "$NS_M" m1 "$sl"
    dumpcap_start "$NS_M" "$both" m0 m1
    # msmtp trusts the shield's root CA (as users do who import the shield's certificate)
    nsx "$NS_C" env SSLKEYLOGFILE="$t/msmtp-keys.log" msmtp --debug --host=mx.example.org --port=25 \
        --domain="$HELO" --tls=on --tls-starttls=on --tls-trust-file="$ca" --auth=off \
        --from=alice@example.net bob@example.org < "$MSG/$name.eml" > "$t/msmtp.txt" 2>&1 || true
    local i
    for i in $(seq 1 100); do
        grep -q '"leg": "server", "event": "close"' "$t/proxy.jsonl" && break
        sleep 0.1
    done
    sleep 0.3
    cap_stop
    middlebox_off
    log_slice "$t/server.log"
    finalize_pcap "$cl"; finalize_pcap "$sl"; finalize_pcap "$both"
    # key logs: the client leg as msmtp wrote it, the server leg as the shield wrote it
    keys_out "$OUT_DIR/$name-client-leg.keys" "$t/msmtp-keys.log"
    keys_out "$OUT_DIR/$name-server-leg.keys" "$t/shield-server-leg.log"
    keys_out "$OUT_DIR/$name.keys" "$OUT_DIR/$name-client-leg.keys" "$OUT_DIR/$name-server-leg.keys"
    keys_out "$t/shield-client-leg.keys" "$t/shield-client-leg.log"
    local same=false
    cmp -s <(sort "$t/shield-client-leg.keys") <(sort "$OUT_DIR/$name-client-leg.keys") && same=true
    local notes
    notes=$($PY - "$t/proxy.jsonl" "$same" "$(wc -l < "$t/shield-client-leg.keys")" <<'EOP'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
tls = {r["leg"]: r for r in recs if r.get("event") == "tls"}
print(json.dumps({
  "certificate_issuers": {
    "seen_by_client": tls.get("client", {}).get("own_cert_issuer"),
    "seen_by_client_subject": tls.get("client", {}).get("own_cert_subject"),
    "seen_by_shield": tls.get("server", {}).get("peer_cert_issuer"),
    "seen_by_shield_subject": tls.get("server", {}).get("peer_cert_subject"),
    "about": "The client (msmtp) gets a certificate for mx.example.org issued on the spot by the shield's own root CA, which the client trusts; the shield gets the server's own self-signed certificate, which it checks against the lab's copy of it."},
  "key_logs": {
    "client_leg": "$NAME-client-leg.keys: written by msmtp (GnuTLS SSLKEYLOGFILE) for its TLS session with the shield",
    "server_leg": "$NAME-server-leg.keys: written by the shield (Python SSLContext.keylog_filename) for its TLS session with the server",
    "combined": "$NAME.keys: both",
    "shield_client_leg_log_matches_msmtp": sys.argv[2] == "true",
    "shield_client_leg_log_lines": int(sys.argv[3])},
  "shield_actions": sorted({r.get("action") for r in recs if r.get("action")}),
  "footer_added": next((r.get("note") for r in recs if r.get("dir") == "to_server" and "body" in r), None)}))
EOP
)
    notes=${notes//\$NAME/$name}
    local made="msmtp $(msmtp_version) (GnuTLS $(gnutls_version), SSLKEYLOGFILE, trusting the shield's root CA) -> smtp_middlebox.py --mode tls-shield --source client (Python $(python_version), OpenSSL $(openssl_lib_version), keylog_filename; modelled on Avast/AVG Mail Shield and ESET SSL/TLS filtering) -> Postfix $(postfix_version)"
    local what="A TLS-intercepting mail shield on the path (reached through an nftables redirect, so the client does not know it is there; its server leg uses the client's address with a new port). It relays the greeting and the first EHLO. When the client sends STARTTLS, the shield does not pass it on: it sends its own STARTTLS to the server and does TLS there as a client (its own ClientHello, Python's ssl, SNI mx.example.org from the server's greeting), then answers the client's STARTTLS itself with 220 and does TLS with the client using a certificate for mx.example.org issued on the spot by its own root CA (CN=Lab Mail Shield Root CA), which msmtp has been told to trust. Inside the two TLS sessions it relays EHLO, MAIL, RCPT, DATA, the message and QUIT command by command, and adds a footer line ('-- scanned by Lab Mail Shield') to the message body, so the server receives a longer message than the client sent. Two TLS sessions with different ClientHellos, ciphers and secrets; the queue id in the 250 the client sees is the server's, relayed."
    local common='"server_log": "'$t/server.log'", "proxy_log": "'$t/proxy.jsonl'", "client_transcripts": ["'$t/msmtp.txt'"], "notes": '$notes
    local csess='{"format": "msmtp", "transcript": "'$t/msmtp.txt'", "leg": "client", "conn": 1, "tls_check": {"keys": "KEYS"}}'
    local ssess='{"format": "proxy", "leg": "server", "conn": 1, "tls_check": {"keys": "KEYS"}}'
    local ck=$OUT_DIR/$name-client-leg.keys sk=$OUT_DIR/$name-server-leg.keys bk=$OUT_DIR/$name.keys
    truth <<EOT
{"name": "$name-client-leg", "capture": "$name-client-leg.pcap", "pcap": "$cl",
 "made_with": "$made; tcpdump on the middlebox's client-facing interface",
 "scenario": "Client leg only (client <-> shield). $what",
 "also_in": ["$name-server-leg.pcap", "$name-both-legs.pcapng"], $common, "key_log": "$ck",
 "sessions": [${csess/KEYS/$ck}]}
EOT
    truth <<EOT
{"name": "$name-server-leg", "capture": "$name-server-leg.pcap", "pcap": "$sl",
 "made_with": "$made; tcpdump on the middlebox's server-facing interface",
 "scenario": "Server leg only (shield <-> server). $what",
 "also_in": ["$name-client-leg.pcap", "$name-both-legs.pcapng"], $common, "key_log": "$sk",
 "sessions": [${ssess/KEYS/$sk}]}
EOT
    truth <<EOT
{"name": "$name-both-legs", "capture": "$name-both-legs.pcapng", "pcap": "$both",
 "made_with": "$made; dumpcap on both of the middlebox's interfaces (pcapng, interface m0 = client side, m1 = server side)",
 "scenario": "Both legs in one file. $what",
 "also_in": ["$name-client-leg.pcap", "$name-server-leg.pcap"], $common, "key_log": "$bk",
 "sessions": [${csess/KEYS/$bk}, ${ssess/KEYS/$bk}]}
EOT
}

# --------------------------------------------------------------------------
# server logs beside the captures (read with smtpscope read --maillog)
# --------------------------------------------------------------------------
# Exim as the receiving server: its own instance (unpacked, see unpack_debs) in the
# server namespace on $X_IP, with its own configuration, spool and log directory;
# two sessions from swaks: one message accepted, one with a refused recipient. The
# capture is on the workstation (c0); Exim's main log is kept as NAME.maillog.
scenario_exim_delivery() {
    local name=exim-delivery; local t=$WORK/$name
    mkdir -p "$t"
    unpack_debs
    local e=$WORK/exim
    mkdir -p "$e/spool" "$e/log"
    chown Debian-exim "$e/spool" "$e/log"
    cat > "$e/exim.conf" <<EOC
primary_hostname = mx2.example.org
exim_user = Debian-exim
exim_path = $DEBS/usr/sbin/exim4
spool_directory = $e/spool
log_file_path = $e/log/%slog
log_selector = +incoming_port +smtp_connection
local_interfaces = $X_IP.25
keep_environment =
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
acl_smtp_rcpt = acl_check_rcpt
domainlist relay_to_domains = example.org
begin acl
acl_check_rcpt:
  deny    recipients = nobody@example.org : unknown@example.org
          message = 5.1.1 User unknown in relay recipient table
  accept  domains = +relay_to_domains
  deny    message = relay not permitted
begin routers
discard_all:
  driver = redirect
  data = :blackhole:
begin transports
begin retry
* * F,1h,15m
EOC
    chmod 644 "$e/exim.conf"
    # -bdf: the daemon stays in the foreground, so that teardown can stop it by its pid.
    bg "$NS_S" "$DEBS/usr/sbin/exim4" -C "$e/exim.conf" -bdf
    local exim_pid=$LAST_PID
    wait_for_port "$NS_S" $X_IP 25
    local mark
    mark=$(stat -c %s "$e/log/mainlog" 2>/dev/null || echo 0)
    cap_start "$NS_C" c0 "$OUT_DIR/$name.pcap"
    run_swaks "$t/swaks-1.txt" --server $X_IP --port 25 \
        --from alice@example.net --to bob@example.org --data "@$MSG/exim-1.eml"
    run_swaks "$t/swaks-2.txt" --server $X_IP --port 25 \
        --from alice@example.net --to bob@example.org,nobody@example.org --data "@$MSG/exim-2.eml"
    cap_stop
    sleep 1
    tail -c +"$((mark + 1))" "$e/log/mainlog" > "$OUT_DIR/$name.maillog"
    stop_pid "$exim_pid"
    finalize_pcap "$OUT_DIR/$name.pcap"
    truth <<EOT
{"name": "$name", "capture": "$name.pcap", "pcap": "$OUT_DIR/$name.pcap",
 "made_with": "swaks $(swaks_version) -> Exim $("$DEBS/usr/sbin/exim4" -C "$e/exim.conf" -bV 2>/dev/null | sed -n 's/^Exim version \([0-9.]*\).*/\1/p'); tcpdump on the workstation (c0)",
 "scenario": "Two sessions to an Exim server (mx2.example.org, its main log kept as $name.maillog with +incoming_port +smtp_connection): the first message is accepted and delivered (to a blackhole router); in the second, the RCPT for nobody@example.org is refused with 550 and the message goes to bob@example.org only.",
 "sessions": [{"format": "swaks", "transcript": "$t/swaks-1.txt", "leg": "direct", "server": "$X_IP:25", "messages": ["$MSG/exim-1.eml"]},
              {"format": "swaks", "transcript": "$t/swaks-2.txt", "leg": "direct", "server": "$X_IP:25", "messages": ["$MSG/exim-2.eml"]}]}
EOT
}

# The seed case, end to end with the seed's own software: Mutt sends through sSMTP
# (unpacked, see unpack_debs) to Postfix, which runs with smtpd -v; a store-and-forward
# scanner (smtp_middlebox.py) intercepts on the way. Captured on the workstation only
# (c0): the capture shows none of the scanner's RSETs and NOOPs; the server's log does.
scenario_mutt_ssmtp_scanner() { with_smtpd_verbose mutt_ssmtp_scanner; }
mutt_ssmtp_scanner() {
    local name=mutt-ssmtp-scanner; local t=$WORK/$name
    mkdir -p "$t/home"
    unpack_debs
    cat > "$t/ssmtp.conf" <<EOC
mailhub=$S_IP:25
hostname=$HELO
FromLineOverride=YES
EOC
    cat > "$t/muttrc" <<EOC
set sendmail="$DEBS/usr/sbin/ssmtp -C $t/ssmtp.conf"
set from="Alice Example <alice@example.net>"
set use_from=yes
set envelope_from=yes
set hostname=ws01.example.net
set record=""
set copy=no
set send_charset=us-ascii
EOC
    printf 'Hello Bob,\n\nsent with Mutt through sSMTP; a scanner holds it on the way.\n\n-- \nAlice\n' > "$t/body.txt"
    middlebox_on store-and-forward client "$t/proxy.jsonl" --hold 4 --keepalive 1 --server-delay 0.02
    log_mark
    local ws="$OUT_DIR/$name-workstation.pcap"
    cap_start "$NS_C" c0 "$ws"
    nsx "$NS_C" env HOME="$t/home" TZ=UTC mutt -n -F "$t/muttrc" -s "Sent with Mutt through a scanner" \
        -- bob@example.org < "$t/body.txt" > "$t/mutt.txt" 2>&1 || log "mutt: $(tail -1 "$t/mutt.txt")"
    local i
    for i in $(seq 1 100); do
        (( $(grep -c '"leg": "server", "event": "close"' "$t/proxy.jsonl" || true) >= 1 )) && break
        sleep 0.1
    done
    sleep 0.3
    cap_stop
    middlebox_off
    log_slice "$t/server.log"
    finalize_pcap "$ws"
    truth <<EOT
{"name": "$name-workstation", "capture": "$name-workstation.pcap", "pcap": "$ws",
 "made_with": "Mutt $(mutt -v 2>/dev/null | sed -n '1s/^Mutt \([^ ]*\).*/\1/p') -> sSMTP 2.64 -> smtp_middlebox.py --mode store-and-forward --source client (modelled on a store-and-forward outgoing-mail scanner) -> Postfix $(postfix_version) with smtpd -v; tcpdump on the workstation (client namespace, c0)",
 "scenario": "The seed case: Mutt sends one message through sSMTP; a store-and-forward scanner intercepts (server leg from the client's address, new port): it relays EHLO, MAIL and RCPT, answers DATA with its own 354 and the message with its own 250 and QUIT with its own 221; on the server leg it sends RSET twice and NOOP keep-alives, and 4 s later replays MAIL, RCPT, DATA and the message. The capture is the workstation's only; the server's log ($name.maillog, smtpd -v) shows every line Postfix read, RSETs and NOOPs included.",
 "server_log": "$t/server.log", "proxy_log": "$t/proxy.jsonl", "client_transcripts": ["$t/mutt.txt"],
 "sessions": [{"format": "proxy", "leg": "client", "conn": 1}]}
EOT
}
