#!/usr/bin/env bash
# make-captures.sh - regenerate the SMTP sample captures in Captures/.
#
# Usage, from the repository root, as root:
#
#     sudo Captures/lab/make-captures.sh              # every scenario
#     sudo Captures/lab/make-captures.sh plain-delivery starttls   # only these
#
# Everything runs on this machine only: the script creates private network
# namespaces joined by veth pairs, uses documentation addresses inside them
# (192.0.2.0/24 clients, 198.51.100.0/24 servers, 203.0.113.0/24 for the
# impaired link, 2001:db8::/32 for IPv6) and removes all of it on exit.
#
# Debian packages it needs (installed with apt-get if missing):
DEB_PACKAGES=(postfix dovecot-core swaks libnet-ssleay-perl msmtp tcpdump tshark wireshark-common
              openssl nftables iproute2 ethtool python3 python3-aiosmtpd procps
              conntrack curl dante-server tinyproxy libauthen-ntlm-perl)
# Debian packages unpacked (apt-get download, dpkg-deb -x) into the work directory rather
# than installed, because each conflicts with Postfix as the system's mail transport:
DEB_UNPACKED=(ssmtp exim4-daemon-light exim4-base exim4-config)
# (mutt is installed: it is a mail client, not a transport.)
DEB_PACKAGES+=(mutt)
# PyPI packages it needs: none (aiosmtpd comes from Debian; the other helpers use the standard library).
# make_lso_capture.py, run by hand, needs scapy (pip install scapy).
#
# Set KEEP_WORK=1 to keep the temporary work directory (configs, logs,
# transcripts) for inspection.

set -euo pipefail
umask 022

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(cd "$LAB_DIR/.." && pwd)
PY=/usr/bin/python3

NS_C=smtplab-client     # mail clients, and the relaying Postfix instance
NS_M=smtplab-middle     # router; runs the intercepting proxy when asked to
NS_S=smtplab-server     # the receiving Postfix instance and Dovecot (SASL)
NS_I=smtplab-impair     # layer-2 bridge that drops, reorders and duplicates

C_IP=192.0.2.10         # client
C2_IP=192.0.2.11        # a second client host (two-clients-same-message)
R_IP=192.0.2.25         # relaying Postfix instance (in the client namespace)
M_C_IP=192.0.2.1        # middlebox, client side
M_S_IP=198.51.100.1     # middlebox, server side
S_IP=198.51.100.25      # receiving Postfix
X_IP=198.51.100.26      # receiving Exim (exim-delivery)
C_IP6=2001:db8:c::10
M_C_IP6=2001:db8:c::1
M_S_IP6=2001:db8:5::1
S_IP6=2001:db8:5::25
CI_IP=203.0.113.10      # client on the impaired link
SI_IP=203.0.113.25      # server on the impaired link

HELO=ws01.example.net
FAKE_PASSWORD='not-a-real-password'

log() { printf '[make-captures] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (sudo $0)"

# --------------------------------------------------------------------------
# packages
# --------------------------------------------------------------------------
install_packages() {
    local missing=() p
    for p in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        apt-get update -q
        apt-get install -y -q "${missing[@]}"
    fi
}

# --------------------------------------------------------------------------
# bookkeeping and teardown
# --------------------------------------------------------------------------
WORK=""
BG_PIDS=()
POSTFIX_DIRS=()      # "namespace config-dir" pairs

teardown() {
    local rc=$?
    set +e
    local pair ns dir pid
    for pair in "${POSTFIX_DIRS[@]}"; do
        ns=${pair%% *}; dir=${pair#* }
        ip netns exec "$ns" postfix -c "$dir" stop >/dev/null 2>&1
    done
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 0.5
    for ns in "$NS_C" "$NS_M" "$NS_S" "$NS_I"; do
        if ip netns list | grep -qw "$ns"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
        fi
    done
    sleep 0.3
    for ns in "$NS_C" "$NS_M" "$NS_S" "$NS_I"; do
        if ip netns list | grep -qw "$ns"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
            ip netns del "$ns"
        fi
        rm -rf "/etc/netns/$ns"
    done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ ${KEEP_WORK:-0} == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    fi
    exit $rc
}

bg() {  # bg NS CMD... : start a background process in a namespace, remember its pid
    local ns=$1; shift
    ip netns exec "$ns" "$@" &
    BG_PIDS+=($!)
    LAST_PID=$!
}

stop_pid() {  # stop one process we started, and wait for it
    local pid=$1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# --------------------------------------------------------------------------
# network
# --------------------------------------------------------------------------
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

veth() {  # veth NS1 IF1 MAC1 NS2 IF2 MAC2
    ip link add "$2" netns "$1" address "$3" type veth peer name "$5" netns "$4" address "$6"
    local ns ifc
    for ns_if in "$1:$2" "$4:$5"; do
        ns=${ns_if%%:*}; ifc=${ns_if#*:}
        # realistic frames: no segmentation offload, real checksums on the wire
        nsx "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
        nsx "$ns" ip link set "$ifc" up
    done
}

setup_network() {
    local ns
    for ns in "$NS_C" "$NS_M" "$NS_S" "$NS_I"; do
        ip netns add "$ns"
        nsx "$ns" ip link set lo up
        # No DNS inside the lab: resolver points at the namespace's own loopback.
        mkdir -p "/etc/netns/$ns"
        printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "/etc/netns/$ns/resolv.conf"
        cat > "/etc/netns/$ns/hosts" <<EOF
127.0.0.1 localhost
$C_IP  ws01.example.net
$R_IP  relay.example.net
$S_IP  mx.example.org
$X_IP  mx2.example.org
EOF
    done
    veth "$NS_C" c0 02:00:00:00:02:10 "$NS_M" m0 02:00:00:00:02:01
    veth "$NS_M" m1 02:00:00:00:64:01 "$NS_S" s0 02:00:00:00:64:25
    veth "$NS_C" c1 02:00:00:00:71:10 "$NS_I" i0 02:00:00:00:71:01
    veth "$NS_I" i1 02:00:00:00:71:02 "$NS_S" s1 02:00:00:00:71:25

    nsx "$NS_C" ip addr add $C_IP/24 dev c0
    nsx "$NS_C" ip addr add $R_IP/24 dev c0
    nsx "$NS_C" ip addr add $C2_IP/24 dev c0
    nsx "$NS_C" ip -6 addr add $C_IP6/64 dev c0 nodad
    nsx "$NS_C" ip route add default via $M_C_IP
    nsx "$NS_C" ip -6 route add default via $M_C_IP6
    nsx "$NS_C" ip addr add $CI_IP/24 dev c1

    nsx "$NS_M" ip addr add $M_C_IP/24 dev m0
    nsx "$NS_M" ip addr add $M_S_IP/24 dev m1
    nsx "$NS_M" ip -6 addr add $M_C_IP6/64 dev m0 nodad
    nsx "$NS_M" ip -6 addr add $M_S_IP6/64 dev m1 nodad
    nsx "$NS_M" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.m0.rp_filter=0 net.ipv4.conf.m1.rp_filter=0
    # Replies to the proxy's transparent server-leg sockets are delivered locally
    # (only used while an intercepting mode marks them, see middlebox_on).
    nsx "$NS_M" ip rule add fwmark 1 lookup 100
    nsx "$NS_M" ip route add local 0.0.0.0/0 dev lo table 100

    nsx "$NS_S" ip addr add $S_IP/24 dev s0
    nsx "$NS_S" ip addr add $X_IP/24 dev s0
    nsx "$NS_S" ip -6 addr add $S_IP6/64 dev s0 nodad
    nsx "$NS_S" ip route add default via $M_S_IP
    nsx "$NS_S" ip -6 route add default via $M_S_IP6
    nsx "$NS_S" ip addr add $SI_IP/24 dev s1

    # The impairing bridge owns i0/i1 at layer 2; keep the kernel quiet on them.
    nsx "$NS_I" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    nsx "$NS_I" ip link set i0 promisc on
    nsx "$NS_I" ip link set i1 promisc on
    # IPv6 link-local traffic on the other veths stays out of the captures by filter.
}

# --------------------------------------------------------------------------
# Postfix instances
# --------------------------------------------------------------------------
write_master_cf() {  # master.cf without chroot, with postlogd for maillog_file
    cat > "$1/master.cf" <<'EOF'
# service type  private unpriv  chroot  wakeup  maxproc command
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# Receiving server: mx.example.org on 198.51.100.25, 203.0.113.25 and 2001:db8:5::25.
# Accepts mail for example.org from the lab networks and discards it after
# queueing; refuses nobody@example.org and unknown@example.org; rejects
# the middlebox-divergent message at the end of data (header_checks); offers
# STARTTLS (self-signed certificate) and AUTH through Dovecot.
setup_server_postfix() {
    SRV=$WORK/server
    SRV_LOG=$WORK/server/maillog
    mkdir -p "$SRV/etc" "$SRV/spool" "$SRV/data" "$SRV/tls"
    chown postfix:postfix "$SRV/data"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
        -subj "/CN=mx.example.org" -addext "subjectAltName=DNS:mx.example.org" \
        -keyout "$SRV/tls/key.pem" -out "$SRV/tls/cert.pem" >/dev/null 2>&1
    chmod 600 "$SRV/tls/key.pem"
    write_master_cf "$SRV/etc"
    # Submission (587: STARTTLS required, AUTH required, AUTH offered only inside
    # TLS) and implicit TLS (465: TLS from the first byte; the lab networks may
    # relay to example.org without AUTH, as on port 25).
    cat >> "$SRV/etc/master.cf" <<'EOF'
submission inet n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
smtps     inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
EOF
    cat > "$SRV/etc/recipient_access" <<'EOF'
nobody@example.org   550 5.1.1 User unknown in relay recipient table
unknown@example.org  550 5.1.1 User unknown in relay recipient table
EOF
    # The REJECT line matches only the subject of the middlebox-divergent
    # message (the first matching line wins, so it comes before the INFO line).
    cat > "$SRV/etc/header_checks" <<'EOF'
/^Subject: Accepted by the scanner, refused by the server$/  REJECT 5.7.1 Message content rejected by policy
/^Subject:/     INFO
/^Message-ID:/  INFO
EOF
    cat > "$SRV/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $SRV/spool
data_directory = $SRV/data
maillog_file = $SRV_LOG
myhostname = mx.example.org
mydomain = example.org
myorigin = \$mydomain
mydestination =
inet_interfaces = $S_IP, $SI_IP, $S_IP6
inet_protocols = all
mynetworks = 127.0.0.0/8, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, [2001:db8::]/32
relay_domains = example.org
transport_maps = inline:{example.org=discard:}
smtpd_banner = \$myhostname ESMTP Postfix
smtpd_peername_lookup = no
smtpd_client_port_logging = yes
smtpd_recipient_restrictions = check_recipient_access texthash:$SRV/etc/recipient_access, permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
header_checks = regexp:$SRV/etc/header_checks
smtpd_tls_security_level = may
smtpd_tls_cert_file = $SRV/tls/cert.pem
smtpd_tls_key_file = $SRV/tls/key.pem
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_tls_auth_only = no
smtpd_timeout = 60s
message_size_limit = 10240000
smtp_dns_support_level = disabled
biff = no
alias_maps =
alias_database =
local_recipient_maps =
EOF
    nsx "$NS_S" postfix -c "$SRV/etc" check >/dev/null 2>&1 || true
    setup_dovecot
    nsx "$NS_S" postfix -c "$SRV/etc" start >/dev/null 2>&1 || die "server Postfix did not start"
    POSTFIX_DIRS+=("$NS_S $SRV/etc")
    wait_for_port "$NS_S" $S_IP 25
}

# Dovecot is used only as Postfix's SASL back end (no mail protocols).
setup_dovecot() {
    local d=$WORK/dovecot
    mkdir -p "$d/run" "$d/state"
    printf 'alice@example.net:{PLAIN}%s\n' "$FAKE_PASSWORD" > "$d/users"
    chmod 644 "$d/users"
    cat > "$d/dovecot.conf" <<EOF
protocols =
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $SRV/spool/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
    mkdir -p "$SRV/spool/private"
    nsx "$NS_S" dovecot -c "$d/dovecot.conf" || die "dovecot did not start"
    DOVECOT_PID_FILE=$d/run/master.pid
}

# Relaying instance: relay.example.net on 192.0.2.25, sends everything to
# [198.51.100.25] and keeps the connection open between messages.
setup_relay_postfix() {
    RLY=$WORK/relay
    RLY_LOG=$WORK/relay/maillog
    mkdir -p "$RLY/etc" "$RLY/spool" "$RLY/data"
    chown postfix:postfix "$RLY/data"
    write_master_cf "$RLY/etc"
    cat > "$RLY/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $RLY/spool
data_directory = $RLY/data
maillog_file = $RLY_LOG
myhostname = relay.example.net
mydomain = example.net
myorigin = \$mydomain
mydestination =
inet_interfaces = $R_IP
inet_protocols = ipv4
mynetworks = 127.0.0.0/8, 192.0.2.0/24
relay_domains = example.org
relayhost = [$S_IP]:25
smtp_bind_address = $R_IP
smtp_dns_support_level = disabled
smtpd_banner = \$myhostname ESMTP Postfix
smtpd_peername_lookup = no
smtpd_client_port_logging = yes
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
# Queue everything on hold; the scenario releases the whole batch at once.
smtpd_end_of_data_restrictions = check_client_access inline:{$C_IP=HOLD}
# One delivery process at a time, cached connection reused for the batch.
smtp_connection_cache_on_demand = yes
smtp_connection_cache_destinations = [$S_IP]:25, [$S_IP], $S_IP
smtp_destination_concurrency_limit = 1
default_destination_concurrency_limit = 1
smtp_tls_security_level = none
debug_peer_list = $S_IP
debug_peer_level = 2
biff = no
alias_maps =
alias_database =
local_recipient_maps =
EOF
    nsx "$NS_C" postfix -c "$RLY/etc" check >/dev/null 2>&1 || true
    nsx "$NS_C" postfix -c "$RLY/etc" start >/dev/null 2>&1 || die "relay Postfix did not start"
    POSTFIX_DIRS+=("$NS_C $RLY/etc")
    wait_for_port "$NS_C" $R_IP 25
}

wait_for_port() {  # wait_for_port NS IP PORT
    local i
    for i in $(seq 1 50); do
        if nsx "$1" $PY -c "import socket,sys; s=socket.create_connection(('$2',$3),timeout=1); s.close()" 2>/dev/null; then
            # The probe connection shows up in the Postfix log; let it settle.
            sleep 0.3; return 0
        fi
        sleep 0.2
    done
    die "nothing listening on $2:$3 in $1"
}

# Packages that would replace Postfix if installed, unpacked into $WORK/debs instead
# (binaries at $WORK/debs/usr/sbin). The unpacked Exim runs as Debian-exim, which the
# package would have created.
unpack_debs() {
    [[ -n ${DEBS:-} ]] && return 0
    DEBS=$WORK/debs
    mkdir -p "$DEBS/pkg"
    (cd "$DEBS/pkg" && apt-get download "${DEB_UNPACKED[@]}" >/dev/null 2>&1) || die "apt-get download ${DEB_UNPACKED[*]} failed"
    local d
    for d in "$DEBS"/pkg/*.deb; do dpkg-deb -x "$d" "$DEBS"; done
    id Debian-exim >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin Debian-exim
}

# Postfix's smtpd logs every line it reads and writes (smtpd -v) while FN runs.
with_smtpd_verbose() {  # with_smtpd_verbose FN ARGS...
    sed -i 's|^\(smtp      inet  .*\) smtpd$|\1 smtpd -v|' "$SRV/etc/master.cf"
    nsx "$NS_S" postfix -c "$SRV/etc" reload >/dev/null 2>&1
    sleep 1
    "$@"
    sed -i 's|^\(smtp      inet  .*\) smtpd -v$|\1 smtpd|' "$SRV/etc/master.cf"
    nsx "$NS_S" postfix -c "$SRV/etc" reload >/dev/null 2>&1
    sleep 1
}

# --------------------------------------------------------------------------
# capture helpers
# --------------------------------------------------------------------------
CAP_PIDS=()
cap_start() {  # cap_start NS IFACE FILE [FILTER] : tcpdump, full snaplen (CAP_SNAPLEN=n: n bytes)
    local ns=$1 ifc=$2 file=$3 filter=${4:-tcp port 25}
    local errf
    errf=$(mktemp "$WORK/tcpdump.XXXXXX")
    ip netns exec "$ns" tcpdump -i "$ifc" -s "${CAP_SNAPLEN:-0}" -U --immediate-mode -Z root -n -w "$file" $filter 2>"$errf" &
    BG_PIDS+=($!); CAP_PIDS+=($!)
    local i
    for i in $(seq 1 50); do grep -q 'listening on' "$errf" && break; sleep 0.1; done
    grep -q 'listening on' "$errf" || die "tcpdump did not start on $ns/$ifc: $(cat "$errf")"
}
dumpcap_start() {  # dumpcap_start NS FILE IFACE... : pcapng with interface names
    local ns=$1 file=$2; shift 2
    local args=() i errf
    for i in "$@"; do args+=(-i "$i"); done
    errf=$(mktemp "$WORK/dumpcap.XXXXXX")
    # -f before the first -i: the filter applies to every interface (after an
    # -i it would apply to the last interface only)
    ip netns exec "$ns" dumpcap -q -f "${DUMPCAP_FILTER:-tcp port 25}" -s 0 "${args[@]}" -w "$file" 2>"$errf" &
    BG_PIDS+=($!); CAP_PIDS+=($!)
    sleep 1.5
    kill -0 "$!" 2>/dev/null || die "dumpcap did not start: $(cat "$errf")"
}
cap_stop() {
    sleep 0.5
    local pid
    for pid in "${CAP_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    for pid in "${CAP_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    CAP_PIDS=()
}

log_mark() { SRV_MARK=$(stat -c %s "$SRV_LOG" 2>/dev/null || echo 0); }
log_slice() {  # log_slice FILE : server log lines written since log_mark
    sleep 1.0
    tail -c +"$((SRV_MARK + 1))" "$SRV_LOG" > "$1"
    # The scenario's server log is kept beside its captures (Captures/NAME.maillog, for
    # `smtpscope read … --maillog`); FILE is $WORK/NAME/server.log.
    cp "$1" "$OUT_DIR/$(basename "$(dirname "$1")").maillog"
}

# Writes Captures/NAME.truth.json from the scenario description (JSON on stdin).
truth() { $PY "$LAB_DIR/truth.py" --out-dir "$OUT_DIR"; }

# finalize_pcap FILE : check the capture is readable and not empty
finalize_pcap() {
    local n
    n=$(tshark -r "$1" 2>/dev/null | wc -l)
    ((n > 0)) || die "empty capture $1"
    log "wrote $(basename "$1") ($n packets, $(stat -c %s "$1") bytes)"
}

# --------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------
source "$LAB_DIR/scenarios.sh"

ALL_SCENARIOS=(
    plain-delivery msmtp-delivery smtplib-delivery pipelining-rcpt-refused
    starttls auth-plain auth-login helo-no-hostname relay-connection-reuse
    typed-session bdat-chunking cooked-any ipv6-delivery large-message-impaired
    middlebox-store-and-forward middlebox-inline-rewriter middlebox-starttls-answered
    middlebox-plain-relay two-clients-same-message two-clients-same-message-sequential
    middlebox-reconnect middlebox-divergent careless-client oversize-message snaplen-cut
    starttls-refused long-silence ehlo-refused
    double-capture nat-double-capture middlebox-gives-up middlebox-gives-up-new-port
    plaintext-after-starttls socks5-proxy socks4-proxy http-connect-proxy subject-8bit
    tso-sender alt-port-detected auth-ntlm
    tls13-starttls-msmtp tls12-starttls-chacha-msmtp tls12-implicit-cbc-smtplib
    tls12-starttls-gcm-smtplib tls-handshake-failed tls-intercepting-shield
    exim-delivery mutt-ssmtp-scanner
)

main() {
    local wanted=("$@")
    ((${#wanted[@]})) || wanted=("${ALL_SCENARIOS[@]}")
    local s
    for s in "${wanted[@]}"; do
        declare -F "scenario_${s//-/_}" >/dev/null || die "unknown scenario: $s"
    done
    install_packages
    WORK=$(mktemp -d /var/tmp/smtplab.XXXXXX)
    chmod 755 "$WORK"
    trap teardown EXIT
    trap 'exit 130' INT TERM
    setup_network
    setup_server_postfix
    for s in "${wanted[@]}"; do
        log "scenario $s"
        "scenario_${s//-/_}"
    done
    log "done"
}

main "$@"
