# Shared by tests/e2e/{run.sh,demo.sh}: the three-namespace topology and the
# helpers that drive traffic through it. Source it; run as root.
#
#   $NS_S (sender)          $NS_M (middle)                 $NS_R (receiver)
#   s0 10.200.1.1/24   ---  vA  [lwfhost | tc mirred]  vB  ---  r0 10.200.1.2/24
#      fd00:200:1::1/64                                          fd00:200:1::2/64
#
# Tagged frames (VLAN 100, addresses $SV4/$RV4) are built by `e2eprobe
# rawblast`: these kernels have no 8021q module for VLAN sub-interfaces.
# The middle namespace's veths have no addresses (IPv6 disabled on them) and
# forwarding is off, so only lwfhost (or tc mirred in the tc runs) moves
# frames between them. Offloads are off on every veth end; transmit checksum
# offload is off on the end hosts so frames carry complete checksums.
# Everything lives in namespaces this file creates and deletes.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NS_S=${NS_S:-qle-snd}
NS_M=${NS_M:-qle-mid}
NS_R=${NS_R:-qle-rcv}
E2E_RUN=${E2E_RUN:-/run/qoslwf-e2e}
CTL_SOCK=$E2E_RUN/ctl.sock
LWFHOST_STATS=$E2E_RUN/lwfhost.stats
S4=10.200.1.1
R4=10.200.1.2
S6=fd00:200:1::1
R6=fd00:200:1::2
SV4=10.200.100.1
RV4=10.200.100.2
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$E2E_ROOT/target}
BIN=$CARGO_TARGET_DIR/release

# Pids this run started (killed on exit, by pid only).
E2E_PIDS=()

in_s() { ip netns exec "$NS_S" "$@"; }
in_m() { ip netns exec "$NS_M" "$@"; }
in_r() { ip netns exec "$NS_R" "$@"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# Starts a background command and remembers its pid. `bg in_r cmd...` runs
# `ip netns exec` directly (it execs), so the pid is the command's own and
# signals reach it.
bg() {
  local a=("$@")
  case $1 in
    in_s) a=(ip netns exec "$NS_S" "${@:2}") ;;
    in_m) a=(ip netns exec "$NS_M" "${@:2}") ;;
    in_r) a=(ip netns exec "$NS_R" "${@:2}") ;;
  esac
  "${a[@]}" &
  E2E_PIDS+=($!)
}

e2e_build() {
  log "building lwfhost, e2eprobe, tcctl (release)"
  (cd "$E2E_ROOT" && cargo build --release --locked -q -p qoslwf-tests --bin lwfhost --bin e2eprobe && \
     cargo build --release --locked -q -p tcctl) || die "build failed"
}

e2e_kill_all() {
  local p
  for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${E2E_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  E2E_PIDS=()
}

e2e_teardown() {
  e2e_kill_all
  local ns
  for ns in "$NS_S" "$NS_M" "$NS_R"; do
    ip netns del "$ns" 2>/dev/null || true
  done
}

offloads_off() { # ns dev
  ip netns exec "$1" ethtool -K "$2" gso off tso off gro off tx off rx off >/dev/null 2>&1 || \
    ip netns exec "$1" ethtool -K "$2" gso off tso off gro off >/dev/null 2>&1 || true
}

e2e_setup() {
  e2e_teardown
  mkdir -p "$E2E_RUN"
  ip netns add "$NS_S" && ip netns add "$NS_M" && ip netns add "$NS_R" || die "cannot create namespaces"
  ip link add s0 netns "$NS_S" type veth peer name vA netns "$NS_M"
  ip link add r0 netns "$NS_R" type veth peer name vB netns "$NS_M"
  local ns
  for ns in "$NS_S" "$NS_M" "$NS_R"; do ip netns exec "$ns" ip link set lo up; done
  # Middle: no addresses, no IPv6, no forwarding: only lwfhost moves frames.
  for d in vA vB; do
    in_m sysctl -qw "net.ipv6.conf.$d.disable_ipv6=1"
    in_m ip link set "$d" up
    offloads_off "$NS_M" "$d"
  done
  in_m sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
  in_s ip addr add $S4/24 dev s0
  in_s ip -6 addr add $S6/64 dev s0 nodad
  in_r ip addr add $R4/24 dev r0
  in_r ip -6 addr add $R6/64 dev r0 nodad
  in_s ip link set s0 up
  in_r ip link set r0 up
  offloads_off "$NS_S" s0
  offloads_off "$NS_R" r0
}

# Starts lwfhost in the middle namespace (MODE: driver | passthrough).
start_lwfhost() { # driver|passthrough [extra lwfhost args]
  local mode=${1:-driver} extra=("${@:2}")
  [ "$mode" = passthrough ] && extra+=(--passthrough)
  rm -f "$CTL_SOCK" "$E2E_RUN/lwfhost.log"
  # Real-time priority for the bump's threads (opt-in: LWFHOST_RT=1): on
  # 2 shared vCPUs, wakeup latency behind iperf3 dominates the RTT tail.
  local rt=()
  [ "${LWFHOST_RT:-0}" = 1 ] && command -v chrt >/dev/null && rt=(chrt -f 10)
  [ -n "${LWFHOST_NICE:-}" ] && rt=(nice -n "$LWFHOST_NICE")
  bg in_m "${rt[@]}" "$BIN/lwfhost" --inner vA --outer vB --socket "$CTL_SOCK" --stats-file "$LWFHOST_STATS" "${extra[@]}" 2>"$E2E_RUN/lwfhost.log"
  LWFHOST_PID=${E2E_PIDS[-1]}
  local i
  for i in $(seq 100); do
    [ -S "$CTL_SOCK" ] && return 0
    kill -0 "$LWFHOST_PID" 2>/dev/null || { cat "$E2E_RUN/lwfhost.log" >&2; die "lwfhost exited"; }
    sleep 0.05
  done
  die "lwfhost did not open $CTL_SOCK"
}

# One counter from lwfhost's stats file (written every 100 ms).
lwfhost_stat() { awk -v k="$1" '$1 == k { print $2 }' "$LWFHOST_STATS" 2>/dev/null || echo 0; }
# vB's transmit drops (veth: the receiver's backlog was full).
vb_tx_dropped() { in_m cat /sys/class/net/vB/statistics/tx_dropped; }
# UDP datagrams the receiver's kernel dropped because a socket buffer was full
# (the receiving iperf3 did not get the CPU in time).
rcv_udp_rcvbuf_errors() { in_r awk '/^Udp:/ { n++; if (n == 2) print $6 }' /proc/net/snmp; }

# The lwfhost process itself (ip netns exec execs, so the pid is lwfhost's).
lwfhost_signal() { kill "-$1" "$LWFHOST_PID"; }

stop_lwfhost() {
  [ -n "${LWFHOST_PID:-}" ] || return 0
  kill -TERM "$LWFHOST_PID" 2>/dev/null || true
  wait "$LWFHOST_PID" 2>/dev/null || true
  LWFHOST_PID=
}

# Linux tc in the same topology: mirred moves frames vA<->vB (no bridge, no
# IP), and the shaping qdisc goes on vB's egress.
start_tc_bridge() {
  local a b
  for a in vA vB; do
    b=$([ $a = vA ] && echo vB || echo vA)
    in_m tc qdisc add dev $a ingress
    in_m tc filter add dev $a parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev $b
  done
}
stop_tc_bridge() {
  local d
  for d in vA vB; do in_m tc qdisc del dev $d ingress 2>/dev/null || true; in_m tc qdisc del dev $d root 2>/dev/null || true; done
  in_s iptables -t mangle -F 2>/dev/null || true
  in_s ip6tables -t mangle -F 2>/dev/null || true
}

# Waits until a TCP port listens in the receiver namespace.
wait_tcp_listen() { # port
  local i
  for i in $(seq 100); do
    in_r ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  die "nothing listens on tcp port $1"
}
wait_udp_bound() { # port
  local i
  for i in $(seq 100); do
    in_r ss -Hlun "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  die "nothing bound on udp port $1"
}

# Starts a capture on the receiver's r0; sets CAP_PID. Waits until it runs.
start_capture() { # file [filter]
  rm -f "$1"
  bg in_r tshark -q -n -i r0 -w "$1" ${2:+-f "$2"} 2>"$1.log"
  CAP_PID=${E2E_PIDS[-1]}
  local i
  for i in $(seq 100); do
    grep -q "Capturing on" "$1.log" 2>/dev/null && { sleep 0.2; return 0; }
    sleep 0.05
  done
  die "tshark did not start: $(cat "$1.log")"
}
stop_capture() {
  sleep 0.3
  kill -INT "$CAP_PID" 2>/dev/null || true
  wait "$CAP_PID" 2>/dev/null || true
}

rx_counters() { # -> "bytes packets" of r0 in the receiver namespace
  in_r cat /sys/class/net/r0/statistics/rx_bytes /sys/class/net/r0/statistics/rx_packets | paste -sd' '
}
now_s() { date +%s.%N; }

# iperf3 run with the IP-layer and frame rate measured on r0's counters over
# the steady part (skip the first 1.5 s: slow start and bucket burst).
# Prints: "ip_bps frame_bps goodput_bps"
IPERF_PORT=5201
iperf_measure() { # proto(tcp|udp) dst secs [udp_rate]
  local proto=$1 dst=$2 secs=$3 urate=${4:-}
  local args=(-c "$dst" -p $IPERF_PORT -t "$secs" -J -C cubic)
  [ "$proto" = udp ] && args=(-c "$dst" -p $IPERF_PORT -t "$secs" -J -u -b "$urate" -l 1400)
  bg in_r taskset -c 1 iperf3 -s -1 -p $IPERF_PORT >/dev/null 2>&1
  local srv=${E2E_PIDS[-1]}
  wait_tcp_listen $IPERF_PORT
  in_s taskset -c 0 iperf3 "${args[@]}" >"$E2E_RUN/iperf.json" 2>&1 &
  local cli=$!
  sleep 1.5
  local a t0 b t1
  a=$(rx_counters); t0=$(now_s)
  sleep "$(awk -v s="$secs" 'BEGIN{print s-2.0}')"
  b=$(rx_counters); t1=$(now_s)
  wait $cli || true
  wait "$srv" 2>/dev/null || true
  local good
  if [ "$proto" = tcp ]; then
    good=$(jq -r '.end.sum_received.bits_per_second // 0' "$E2E_RUN/iperf.json" 2>/dev/null || echo 0)
  else
    good=$(jq -r '(.end.sum_received // .end.sum).bits_per_second // 0' "$E2E_RUN/iperf.json" 2>/dev/null || echo 0)
  fi
  awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" -v g="$good" 'BEGIN{
    split(a,x," "); split(b,y," "); dt=t1-t0; db=y[1]-x[1]; dp=y[2]-x[2];
    printf "%.0f %.0f %.0f\n", (db-14*dp)*8/dt, db*8/dt, g }'
}
