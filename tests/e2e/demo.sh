#!/usr/bin/env bash
# qoslwf demo: real traffic through the real driver code.
#
#   sudo tests/e2e/demo.sh          (after tests/scripts/setup.sh)
#
# Builds lwfhost, tcctl and e2eprobe; makes three network namespaces
# (sender - lwfhost - receiver); applies tests/e2e/demo.toml with tcctl
# (voice: Guaranteed, DSCP 46, 802.1p 6, 1 Mbit/s; bulk: 20 Mbit/s; backup:
# DSCP 8, borrowing); sends voice, bulk and backup traffic together for 5 s
# with iperf3; prints tcctl's per-flow statistics, the DSCP / 802.1p values
# tshark saw on the receiver per flow, and the achieved rates. Everything it
# made is removed on exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || die "run as root (network namespaces): sudo $0"
for c in tshark iperf3 ethtool jq taskset cargo; do
  command -v $c >/dev/null || die "$c is missing: run tests/scripts/setup.sh"
done
SECS=${DEMO_SECS:-5}
TCCTL() { "$BIN/tcctl" --device "unix:$CTL_SOCK" "$@"; }
trap e2e_teardown EXIT

[ "${1:-}" = --no-build ] || e2e_build
e2e_setup
start_lwfhost driver
log "lwfhost runs the qoslwf driver between vA (sender side) and vB (receiver side)"
echo; echo "== tcctl interfaces"
if TCCTL interfaces; then
  VIA=tcctl
  echo; echo "== tcctl apply $HERE/demo.toml"; TCCTL apply "$HERE/demo.toml"
  echo; echo "== tcctl flow list"; TCCTL flow list
  echo; echo "== tcctl filter list"; TCCTL filter list
else
  # The driver's control device does not answer (a build without the
  # control plane wired): publish the same configuration straight to the
  # module, and say so.
  VIA=static
  echo "NOTE: the driver's control device did not answer; publishing demo.toml's"
  echo "      equivalent with lwfhost --static-config instead of tcctl apply"
  stop_lwfhost
  cat >"$E2E_RUN/demo.static" <<EOS
flow 1 guaranteed 1000000 shape 46 6
flow 2 best-effort 20000000 shape - -
flow 3 controlled-load 5000000 borrow 8 -
filter 1 udp 7000
filter 2 tcp 5201
filter 3 tcpudp 5202
EOS
  start_lwfhost driver --static-config "$E2E_RUN/demo.static"
  cat "$E2E_RUN/demo.static"
fi

# Receivers: one iperf3 server per flow.
for p in 7000 5201 5202; do bg in_r taskset -c 1 iperf3 -s -1 -p $p >/dev/null 2>&1; done
for p in 7000 5201 5202; do wait_tcp_listen $p; done
CAP=$E2E_RUN/demo.pcap
start_capture "$CAP" "ip and (udp port 7000 or tcp dst port 5201 or udp dst port 5202)"

log "sending for ${SECS}s: voice UDP 500 kbit/s -> :7000, bulk TCP -> :5201, backup UDP 10 Mbit/s -> :5202"
in_s iperf3 -c $R4 -p 7000 -u -b 500K -l 160 -t "$SECS" -J >"$E2E_RUN/voice.json" 2>&1 & v=$!
in_s taskset -c 0 iperf3 -c $R4 -p 5201 -C cubic -t "$SECS" -J >"$E2E_RUN/bulk.json" 2>&1 & b=$!
in_s iperf3 -c $R4 -p 5202 -u -b 10M -l 1400 -t "$SECS" -J >"$E2E_RUN/backup.json" 2>&1 & k=$!
wait $v $b $k || true
stop_capture

if [ $VIA = tcctl ]; then
  echo; echo "== tcctl stats (per-flow statistics from the driver)"
  TCCTL stats || true
else
  echo; echo "== lwfhost counters (tcctl stats needs the control device)"
  sed 's/^/  /' "$LWFHOST_STATS"
fi

echo; echo "== what tshark saw on the receiver, per flow (packets by DSCP / 802.1p)"
tshark -r "$CAP" -n -Y "ip.src==$S4" -T fields -E separator=, -E occurrence=f \
  -e udp.dstport -e tcp.dstport -e ip.dsfield.dscp -e vlan.priority 2>/dev/null |
  awk -F, '{ port = ($1 != "") ? $1 : $2;
             flow = (port == 7000) ? "voice  (udp 7000)" : (port == 5201) ? "bulk   (tcp 5201)" : (port == 5202) ? "backup (udp 5202)" : "other";
             k = flow " DSCP " $3 " 802.1p " (($4 == "") ? "-" : $4); n[k]++ }
           END { for (k in n) printf "  %-44s %7d packets\n", k, n[k] }' | sort

echo; echo "== IP-layer rate per flow on the receiver (tshark: sum of IP lengths from each flow's first to last packet)"
tshark -r "$CAP" -n -Y "ip.src==$S4" -T fields -E separator=, -E occurrence=f \
  -e udp.dstport -e tcp.dstport -e ip.len -e frame.time_relative 2>/dev/null |
  awk -F, '{ port = ($1 != "") ? $1 : $2; b[port] += $3;
             if (!(port in t0)) t0[port] = $4; t1[port] = $4 }
           END { for (p in b) { d = t1[p] - t0[p]; if (d <= 0) continue;
                   name = (p == 7000) ? "voice  (udp 7000)" : (p == 5201) ? "bulk   (tcp 5201)" : (p == 5202) ? "backup (udp 5202)" : "other " p;
                   printf "  %-20s %7.3f Mbit/s IP-layer\n", name, b[p] * 8 / d / 1e6 } }' | sort

echo; echo "== achieved rates (iperf3, receiver side)"
rate() { jq -r '(.end.sum_received // .end.sum).bits_per_second // 0' "$1" 2>/dev/null | awk '{printf "%.2f Mbit/s", $1/1e6}'; }
lost() { jq -r '(.end.sum_received // .end.sum) | "\(.lost_packets // 0) of \(.packets // 0) datagrams lost"' "$1" 2>/dev/null; }
echo "  voice  (configured 1 Mbit/s shaped, offered 0.5 Mbit/s): $(rate "$E2E_RUN/voice.json"), $(lost "$E2E_RUN/voice.json")"
echo "  bulk   (throttled to 20 Mbit/s IP-layer):               $(rate "$E2E_RUN/bulk.json") TCP goodput"
echo "  backup (5 Mbit/s, borrowing; offered 10 Mbit/s):         $(rate "$E2E_RUN/backup.json"), $(lost "$E2E_RUN/backup.json")"
stop_lwfhost
echo; echo "== lwfhost"; sed 's/^lwfhost: /  /' "$E2E_RUN/lwfhost.log"
