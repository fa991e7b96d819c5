# The end-to-end scenarios, run once through qoslwf (lwfhost + tcctl) and once
# through Linux tc (mirred + htb + u32, iptables DSCP) in the same topology.
# Sourced by run.sh after lib.sh. Results go to $RESULTS as
#   MODE<TAB>KEY<TAB>VALUE
# and failed assertions to $FAILS_FILE.

# Ports: what each flow matches.
P_VOICE=7000   # UDP: Guaranteed, DSCP 46, 802.1p 6, 1 Mbit/s shaped (RTT probe too)
P_BACKUP=7002  # UDP: DSCP 8, borrowing (sent under its rate in the marks test)
P_OTHER=7005   # UDP: no filter (unclassified: untouched)
P_BULK=5201    # TCP and UDP (iperf3): shaped at the rate under test
P_FREE=5301    # TCP and UDP (iperf3): no filter (loss and pause/restart tests)

TCCTL() { "$BIN/tcctl" --device "unix:$CTL_SOCK" "$@"; }
# How qoslwf is configured: tcctl over lwfhost's control socket, or static
# (lwfhost --static-config, re-read on SIGHUP), or auto (default): tcctl when
# the driver's control device answers `tcctl interfaces`, else static, said
# loudly in the output and the table.
CONFIG_VIA=${CONFIG_VIA:-auto}
STATIC_CONFIG=$E2E_RUN/static.conf

record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }
fail() { log "ASSERTION FAILED: $*"; printf '%s\n' "$*" >>"$FAILS_FILE"; }
# A check the machine could not assess at the time (reported, not failed).
not_assessable() { log "NOT ASSESSABLE: $*"; printf '%s\n' "$*" >>"$UNASSESSED_FILE"; }
# ge/le on decimals
fge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 >= b+0)}'; }
fle() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 <= b+0)}'; }

# ---- configuration ---------------------------------------------------------

# The qoslwf configuration (tcctl apply format) with the bulk flow at $1 Mbit/s.
qoslwf_config() { # bulk_mbit -> file
  local f=$E2E_RUN/e2e.toml
  cat >"$f" <<EOF
[[adapter]]
adapter = "vB"

[[adapter.flow]]
name = "voice"
service_type = "guaranteed"
rate = "1mbit"
mode = "shape"
dscp = 46
pcp = 6

[[adapter.flow]]
name = "bulk"
service_type = "best-effort"
rate = "${1}mbit"
mode = "shape"

[[adapter.flow]]
name = "backup"
service_type = "controlled-load"
rate = "5mbit"
mode = "borrow"
dscp = 8

[[adapter.filter]]
flow = "voice"
protocol = "udp"
dport = $P_VOICE

[[adapter.filter]]
flow = "bulk"
protocol = "tcpudp"
dport = $P_BULK

[[adapter.filter]]
flow = "backup"
protocol = "udp"
dport = $P_BACKUP
EOF
  echo "$f"
}

# The same configuration in lwfhost's --static-config format (published
# straight to the module; used with CONFIG_VIA=static, when the control path
# is not under test).
qoslwf_static_config() { # bulk_mbit
  cat >"$STATIC_CONFIG" <<EOF
flow 1 guaranteed 1000000 shape 46 6
flow 2 best-effort ${1}000000 shape - -
flow 3 controlled-load 5000000 borrow 8 -
filter 1 udp $P_VOICE
filter 2 tcpudp $P_BULK
filter 3 udp $P_BACKUP
EOF
}

configure() { # mode bulk_mbit
  if [ "$1" = qoslwf ] && [ "$CONFIG_VIA" = static ]; then
    qoslwf_static_config "$2"
    lwfhost_signal HUP
    local i
    for i in $(seq 50); do
      [ "$(grep -c 'published' "$E2E_RUN/lwfhost.log")" -gt "${STATIC_LOADS:-0}" ] && break
      sleep 0.02
    done
    STATIC_LOADS=$(grep -c 'published' "$E2E_RUN/lwfhost.log")
  elif [ "$1" = qoslwf ]; then
    TCCTL apply "$(qoslwf_config "$2")" >"$E2E_RUN/apply.log" 2>&1 || { cat "$E2E_RUN/apply.log" >&2; die "tcctl apply failed"; }
  else
    tc_config "$2"
  fi
}

# Linux tc: htb on vB's egress with u32 filters on the same ports; DSCP by
# iptables in the sender (mirred traffic never meets netfilter in the
# middle). htb counts frame bytes.
tc_config() { # bulk_mbit
  in_m tc qdisc del dev vB root 2>/dev/null || true
  in_m tc qdisc add dev vB root handle 1: htb default 30 r2q 1000
  in_m tc class add dev vB parent 1: classid 1:1 htb rate 10gbit quantum 60000
  in_m tc class add dev vB parent 1:1 classid 1:10 htb rate "${1}mbit" ceil "${1}mbit" prio 1 quantum 1514
  in_m tc class add dev vB parent 1:1 classid 1:20 htb rate 1mbit ceil 1mbit prio 0 quantum 1514
  in_m tc class add dev vB parent 1:1 classid 1:30 htb rate 9gbit ceil 10gbit prio 1 quantum 60000
  in_m tc class add dev vB parent 1:1 classid 1:40 htb rate 5mbit ceil 10gbit prio 1 quantum 1514
  local p cls
  for p in "$P_BULK:1:10" "$P_VOICE:1:20" "$P_BACKUP:1:40"; do
    cls=${p#*:}; p=${p%%:*}
    in_m tc filter add dev vB parent 1: protocol ip prio 1 u32 match ip dport "$p" 0xffff flowid "$cls"
    in_m tc filter add dev vB parent 1: protocol ipv6 prio 2 u32 match ip6 dport "$p" 0xffff flowid "$cls"
  done
  local ipt
  for ipt in iptables ip6tables; do
    in_s $ipt -t mangle -F POSTROUTING
    in_s $ipt -t mangle -A POSTROUTING -p udp --dport $P_VOICE -j DSCP --set-dscp 46
    in_s $ipt -t mangle -A POSTROUTING -p udp --dport $P_BACKUP -j DSCP --set-dscp 8
  done
}

start_path() { # mode
  if [ "$1" = qoslwf ] && [ "$CONFIG_VIA" != tcctl ]; then
    qoslwf_static_config 10
    start_lwfhost driver --static-config "$STATIC_CONFIG"
    STATIC_LOADS=$(grep -c 'published' "$E2E_RUN/lwfhost.log")
    if [ "$CONFIG_VIA" = auto ]; then
      if TCCTL interfaces >"$E2E_RUN/tcctl-probe.log" 2>&1; then
        CONFIG_VIA=tcctl
      else
        CONFIG_VIA=static
        log "NOTE: the driver's control device does not answer tcctl ($(head -c 200 "$E2E_RUN/tcctl-probe.log"));"
        log "NOTE: configuring qoslwf with lwfhost --static-config (published straight to the module)"
      fi
    fi
    record qoslwf "configured through" \
      "$([ "$CONFIG_VIA" = tcctl ] && echo "tcctl apply over lwfhost's control socket" || echo "lwfhost --static-config (control device not answering)")"
  elif [ "$1" = qoslwf ]; then
    start_lwfhost driver
    record qoslwf "configured through" "tcctl apply over lwfhost's control socket"
  else
    start_tc_bridge
    record tc "configured through" "tc (mirred, htb, u32) in the middle; iptables DSCP in the sender"
  fi
}
stop_path() { # mode
  if [ "$1" = qoslwf ]; then stop_lwfhost; else stop_tc_bridge; fi
}

# ---- 1. marking ------------------------------------------------------------

scenario_marks() { # mode
  local mode=$1 cap=$E2E_RUN/marks-$1.pcap
  local p
  for p in $P_VOICE $P_BACKUP $P_OTHER; do
    bg in_r "$BIN/e2eprobe" sink --bind "[::]:$p" --duration 8 >/dev/null
  done
  wait_udp_bound $P_OTHER
  start_capture "$cap" "udp"
  local rmac; rmac=$(in_r cat /sys/class/net/r0/address)
  # ECT(0) on everything (TOS low bits 10); the unclassified flow carries DSCP 10.
  in_s "$BIN/e2eprobe" blast --to "$R4:$P_VOICE" --tos 2 --count 200 --pps 400 --size 100 >/dev/null
  in_s "$BIN/e2eprobe" blast --to "[$R6]:$P_VOICE" --tos 2 --count 200 --pps 400 --size 100 >/dev/null
  in_s "$BIN/e2eprobe" blast --to "$R4:$P_BACKUP" --tos 2 --count 200 --pps 400 --size 100 >/dev/null
  in_s "$BIN/e2eprobe" blast --to "[$R6]:$P_BACKUP" --tos 2 --count 200 --pps 400 --size 100 >/dev/null
  in_s "$BIN/e2eprobe" blast --to "$R4:$P_OTHER" --tos 42 --count 200 --pps 400 --size 100 >/dev/null
  # Tagged frames (VLAN 100, priority 0 as sent).
  in_s "$BIN/e2eprobe" rawblast --dev s0 --dst-mac "$rmac" --src $SV4 --dst $RV4 --sport 40000 \
    --dport $P_VOICE --vid 100 --pcp 0 --tos 2 --count 200 --pps 400 --size 100 >/dev/null
  stop_capture
  # One line per packet: dport, 6 for IPv6, VLAN id, PCP, DSCP v4|v6, ECN v4|v6, IPv4 checksum status
  tshark -r "$cap" -o ip.check_checksum:TRUE -n \
    -Y "udp && !icmp && !icmpv6 && (ip.src==$S4 || ip.src==$SV4 || ipv6.src==$S6)" \
    -T fields -E separator=, -E occurrence=f \
    -e udp.dstport -e ipv6.version -e vlan.id -e vlan.priority \
    -e ip.dsfield.dscp -e ipv6.tclass.dscp -e ip.dsfield.ecn -e ipv6.tclass.ecn -e ip.checksum.status \
    2>/dev/null >"$cap.txt"
  # The backup flow borrows: a packet over its bucket is sent with the
  # non-conforming marks (DSCP 0, 802.1p 1). The blasts stay far under its
  # rate, but a sender or lwfhost stalled for 100 ms or more releases a
  # burst past the 10 ms bucket (one CI run: 17 packets). Such packets are
  # accepted only as many as the driver counted non-conforming for the flow
  # (tcctl stats; not available with CONFIG_VIA=static), and are reported.
  local nonconf=0
  if [ "$mode" = qoslwf ] && [ "$CONFIG_VIA" = tcctl ]; then
    nonconf=$(TCCTL stats 2>/dev/null | awk '$2 == "backup" && NF >= 6 { print $6 + 0 }')
    nonconf=${nonconf:-0}
  fi
  local nc_seen
  nc_seen=$(awk -F, -v port="$P_BACKUP" '$1 == port && (($2 == "6") ? $6 : $5) == "0" && $4 == "1"' "$cap.txt" | wc -l)
  local nc_ok=0
  if [ "$nc_seen" -gt 0 ]; then
    log "marks ($mode): $nc_seen backup packets carried the non-conforming marks (DSCP 0, 802.1p 1); the driver counted $nonconf non-conforming"
    record "$mode" "marks $P_BACKUP non-conforming (seen / driver)" "$nc_seen / $nonconf"
    [ "$nc_seen" -le "$nonconf" ] && nc_ok=1
  fi
  # Group: port/family/tagged -> count, DSCP values, ECN values, PCP values, bad checksums.
  awk -F, -v port="$P_BACKUP" -v nc_ok="$nc_ok" '{
      fam = ($2 == "6") ? "v6" : "v4";
      tag = ($3 == "100") ? "vlan100" : "untagged";
      k = $1 "/" fam "/" tag;
      n[k]++;
      d = (fam == "v6") ? $6 : $5; e = (fam == "v6") ? $8 : $7;
      # A backup packet the driver counted non-conforming: its DSCP and
      # PCP are the non-conforming ones, checked above, so they are left
      # out of the DSCP and PCP lists (its count, ECN and checksum count).
      nc = nc_ok && $1 == port && d == "0" && $4 == "1";
      if (!nc && !((k, d) in seen_d)) { seen_d[k, d] = 1; dl[k] = dl[k] (dl[k] ? "|" : "") d }
      if (!((k, e) in seen_e)) { seen_e[k, e] = 1; el[k] = el[k] (el[k] ? "|" : "") e }
      p = ($4 == "") ? "-" : $4;
      if (!nc && !((k, p) in seen_p)) { seen_p[k, p] = 1; pl[k] = pl[k] (pl[k] ? "|" : "") p }
      if (fam == "v4" && $9 != "1") bad[k]++;
    } END { for (k in n) printf "%s %d dscp=%s ecn=%s pcp=%s badcsum=%d\n", k, n[k], dl[k], el[k], pl[k], bad[k] + 0 }' \
    "$cap.txt" | sort >"$cap.summary"
  log "marks ($mode): what tshark saw on the receiver (port/family/tag count dscp ecn pcp badcsum):"
  sed 's/^/    /' "$cap.summary" >&2
  check_marks() { # key dscp pcp-or-empty
    local line; line=$(grep "^$1 " "$cap.summary" || true)
    if [ -z "$line" ]; then fail "$mode marks: no packets for $1"; record "$mode" "marks $1" "none"; return; fi
    local n; n=$(echo "$line" | awk '{print $2}')
    record "$mode" "marks $1" "$(echo "$line" | cut -d' ' -f2-)"
    [ "$n" -ge 190 ] || fail "$mode marks: only $n of 200 packets for $1"
    echo "$line" | grep -q " dscp=$2 " || fail "$mode marks: $1 DSCP not all $2: $line"
    echo "$line" | grep -q " ecn=2 " || fail "$mode marks: $1 ECN not kept (ECT(0)): $line"
    echo "$line" | grep -q " badcsum=0" || fail "$mode marks: $1 bad IPv4 header checksums: $line"
    if [ -n "${3:-}" ]; then
      echo "$line" | grep -q " pcp=$3 " || fail "$mode marks: $1 802.1p not all $3: $line"
    fi
  }
  local vpcp=''
  [ "$mode" = qoslwf ] && vpcp=6
  # Untagged voice frames: qoslwf's 802.1p goes into the NBL's 802.1Q info,
  # which the miniport (lwfhost) turns into a priority tag (VLAN 0).
  check_marks "$P_VOICE/v4/untagged" 46 "$vpcp"
  check_marks "$P_VOICE/v6/untagged" 46 "$vpcp"
  check_marks "$P_BACKUP/v4/untagged" 8
  check_marks "$P_BACKUP/v6/untagged" 8
  check_marks "$P_OTHER/v4/untagged" 10 "-"
  if [ "$mode" = qoslwf ]; then
    check_marks "$P_VOICE/v4/vlan100" 46 6
  else
    # Linux tc here cannot rewrite an 802.1Q priority (no act_vlan/skbedit).
    record "$mode" "marks $P_VOICE/v4/vlan100" "n/a (no act_vlan/skbedit in this kernel)"
  fi
  e2e_kill_sinks
}

# Kills the sinks/echo servers still running (all bg pids but lwfhost's).
e2e_kill_sinks() {
  local keep=() p
  for p in "${E2E_PIDS[@]}"; do
    if [ "$p" = "${LWFHOST_PID:-x}" ]; then keep+=("$p"); continue; fi
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  E2E_PIDS=("${keep[@]}")
}

# ---- 2. shaping accuracy -----------------------------------------------------

scenario_shaping() { # mode
  local mode=$1 r proto out ip frame good ratio dst
  # IPv4 TCP and UDP at each rate, and IPv6 TCP at 10 Mbit/s.
  for r in ${RATES:-1 10 100}; do
    configure "$mode" $r
    for proto in tcp udp tcp6; do
      [ $proto = tcp6 ] && [ $r != 10 ] && continue
      IPERF_PORT=$P_BULK
      dst=$R4; [ $proto = tcp6 ] && dst=$R6
      # UDP offered at 1.25x the rate: the shaper must hold it to R.
      local attempt note="" earlier=""
      CARRIED=""
      for attempt in $(seq 1 "$RATE_ATTEMPTS"); do
        out=$(iperf_measure ${proto%6} $dst 5 "$(awk -v r=$r 'BEGIN{print r*1.25}')M")
        read -r ip frame good <<<"$out"
        if [ "$mode" = qoslwf ]; then
          ratio=$(awk -v a="$ip" -v r=$r 'BEGIN{printf "%.3f", a/(r*1e6)}')
        else
          ratio=$(awk -v a="$frame" -v r=$r 'BEGIN{printf "%.3f", a/(r*1e6)}')
        fi
        local gratio; gratio=$(awk -v a="$good" -v r=$r 'BEGIN{printf "%.3f", a/(r*1e6)}')
        log "shaping ($mode) $proto @ ${r} Mbit/s: ip=$ip frame=$frame goodput=$good -> rate ratio $ratio, goodput ratio $gratio"
        # Tolerance: see README (user-space bump on 2 shared cores). A
        # figure outside it is measured again, up to RATE_ATTEMPTS runs in
        # all (a TCP timeout or a CPU stall inside one 5 s window), and
        # every run is reported; the first inside the band, or the last,
        # decides. tc is the reference column: reported, not asserted.
        if [ "$mode" != qoslwf ] || { fge "$ratio" "$RATE_MIN" && fle "$ratio" "$RATE_MAX"; }; then
          break
        fi
        if [ "$attempt" -lt "$RATE_ATTEMPTS" ]; then
          earlier="$earlier${earlier:+, }$ratio"
          note=" (earlier runs $earlier, measured again)"
          log "shaping ($mode) $proto @ ${r} Mbit/s: ratio $ratio outside [$RATE_MIN, $RATE_MAX]; measuring again"
        elif fle "$ratio" "$RATE_MIN" && ! path_carries $proto $dst $r; then
          # Too slow every time, and the path itself, unshaped, could not
          # carry the rate with headroom just now: the machine, not the
          # shaper.
          note="$note; unshaped the path carried $CARRIED: not assessable"
          not_assessable "$mode shaping $proto @ ${r} Mbit/s: rate ratio $ratio, but unshaped the same path carried only $CARRIED of the rate (needs $CARRY_MIN)"
        else
          [ -n "${CARRIED:-}" ] && note="$note; unshaped the path carried $CARRIED"
          fail "$mode shaping $proto @ ${r} Mbit/s: rate ratio $ratio outside [$RATE_MIN, $RATE_MAX]$note"
        fi
      done
      record "$mode" "rate $proto ${r}M ratio" "$ratio$note"
      record "$mode" "rate $proto ${r}M goodput" "$gratio"
      record "$mode" "rate $proto ${r}M ip_bps" "$ip"
      record "$mode" "rate $proto ${r}M frame_bps" "$frame"
    done
  done
}

# Whether the path, unshaped (the unfiltered port, same protocol, same
# offered load), carries at least CARRY_MIN times rate $3 Mbit/s right now;
# sets CARRIED to the ratio it carried. A shaped figure under RATE_MIN only
# says something about the shaper when the path itself can go faster.
path_carries() { # proto dst rate_mbit
  local out ip _frame _good
  out=$(IPERF_PORT=$P_FREE iperf_measure ${1%6} "$2" 5 "$(awk -v r="$3" 'BEGIN{print r*1.25}')M")
  read -r ip _frame _good <<<"$out"
  CARRIED=$(awk -v a="$ip" -v r="$3" 'BEGIN{printf "%.3f", a/(r*1e6)}')
  log "unshaped $1 on the same path: $CARRIED of ${3} Mbit/s"
  fge "$CARRIED" "$CARRY_MIN"
}

# ---- 3. priority under saturation ------------------------------------------

scenario_priority() { # mode
  local mode=$1 attempt first=""
  configure "$mode" 10
  # Like the shaping figures, a priority figure outside its bound is
  # measured once more and both are reported; the second decides. A CI VM
  # can stall a user-space thread for tens of ms, and then the unloaded
  # and loaded tails both stretch (one run read idle p99 32.7 ms, loaded
  # 64.3 ms, tc's loaded p99 25.8 ms beside it).
  for attempt in 1 2; do
    priority_once "$mode"
    if [ "$mode" != qoslwf ] || priority_ok; then
      break
    fi
    if [ $attempt = 1 ]; then
      first=" (first run: idle p99 $PRIO_I99, loaded p50 $PRIO_L50 p99 $PRIO_L99, $PRIO_LRX/300 answered; measured again)"
      log "priority ($mode): outside its bounds$first"
    fi
  done
  local i50=$PRIO_I50 i90=$PRIO_I90 i99=$PRIO_I99 l50=$PRIO_L50 l90=$PRIO_L90 l99=$PRIO_L99 lrx=$PRIO_LRX
  record "$mode" "rtt idle p50 ms" "$i50"
  record "$mode" "rtt idle p90 ms" "$i90"
  record "$mode" "rtt idle p99 ms" "$i99"
  record "$mode" "rtt loaded p50 ms" "$l50"
  record "$mode" "rtt loaded p90 ms" "$l90"
  record "$mode" "rtt loaded p99 ms" "$l99$first"
  record "$mode" "rtt loaded received" "$lrx/300"
  record "$mode" "prio bulk goodput bps" "$PRIO_BULK"
  # Goal: loaded p99 <= unloaded p99 through the same path + one 1514-byte
  # frame at 10 Mbit/s (1.211 ms). The assertion adds this machine's
  # scheduling slack ($PRIO_SLACK_MS) to the p99 and checks the median
  # strictly (within the frame time + 0.5 ms).
  local goal met; goal=$(awk -v a="$i99" 'BEGIN{printf "%.3f", a+1.211}')
  met=$(fle "$l99" "$goal" && echo yes || echo no)
  record "$mode" "rtt goal: loaded p99 <= idle p99 + 1 frame (1.211 ms)" "$met ($l99 vs $goal)"
  if [ "$mode" = qoslwf ]; then
    fle "$l99" "$(awk -v g="$goal" -v s="$PRIO_SLACK_MS" 'BEGIN{print g+s}')" ||
      fail "$mode priority: loaded p99 $l99 ms > goal $goal ms + slack $PRIO_SLACK_MS ms$first"
    fle "$l50" "$(awk -v a="$i50" 'BEGIN{print a+1.711}')" ||
      fail "$mode priority: loaded p50 $l50 ms > idle p50 $i50 ms + 1.711 ms$first"
    [ "$lrx" -ge 297 ] || fail "$mode priority: $lrx of 300 probes answered under load$first"
  fi
}

# One measurement of the priority scenario (the flows are configured):
# echo RTTs unloaded, then while bulk TCP saturates its shaped flow. Sets
# PRIO_I50/I90/I99 (unloaded), PRIO_L50/L90/L99 and PRIO_LRX (loaded), and
# PRIO_BULK (the bulk goodput, bit/s).
priority_once() { # mode
  local mode=$1
  bg in_r "$BIN/e2eprobe" echo --bind "[::]:$P_VOICE" --duration 30 >/dev/null
  wait_udp_bound $P_VOICE
  local idle loaded
  idle=$(in_s "$BIN/e2eprobe" ping --to "$R4:$P_VOICE" --count 200 --interval-ms 10 --tos 2)
  IPERF_PORT=$P_BULK
  bg in_r taskset -c 1 iperf3 -s -1 -p $P_BULK >/dev/null 2>&1
  wait_tcp_listen $P_BULK
  in_s taskset -c 0 iperf3 -c $R4 -p $P_BULK -t 6 -C cubic -J >"$E2E_RUN/prio-iperf-$mode.json" 2>&1 &
  local cli=$!
  sleep 1.5
  loaded=$(in_s "$BIN/e2eprobe" ping --to "$R4:$P_VOICE" --count 300 --interval-ms 10 --tos 2)
  wait $cli || true
  PRIO_BULK=$(jq -r '.end.sum_received.bits_per_second // 0 | floor' "$E2E_RUN/prio-iperf-$mode.json" 2>/dev/null || echo 0)
  e2e_kill_sinks
  log "priority ($mode): idle: $idle"
  log "priority ($mode): bulk TCP at 10 Mbit/s ($PRIO_BULK bit/s goodput): $loaded"
  PRIO_I50=$(sed 's/.*p50_ms=\([^ ]*\).*/\1/' <<<"$idle")
  PRIO_I90=$(sed 's/.*p90_ms=\([^ ]*\).*/\1/' <<<"$idle")
  PRIO_I99=$(sed 's/.*p99_ms=\([^ ]*\).*/\1/' <<<"$idle")
  PRIO_L50=$(sed 's/.*p50_ms=\([^ ]*\).*/\1/' <<<"$loaded")
  PRIO_L90=$(sed 's/.*p90_ms=\([^ ]*\).*/\1/' <<<"$loaded")
  PRIO_L99=$(sed 's/.*p99_ms=\([^ ]*\).*/\1/' <<<"$loaded")
  PRIO_LRX=$(sed 's/.*received=\([^ ]*\).*/\1/' <<<"$loaded")
}

# True when the last priority_once met every bound the qoslwf column is
# held to (see scenario_priority).
priority_ok() {
  local goal; goal=$(awk -v a="$PRIO_I99" 'BEGIN{printf "%.3f", a+1.211}')
  fle "$PRIO_L99" "$(awk -v g="$goal" -v s="$PRIO_SLACK_MS" 'BEGIN{print g+s}')" &&
    fle "$PRIO_L50" "$(awk -v a="$PRIO_I50" 'BEGIN{print a+1.711}')" &&
    [ "$PRIO_LRX" -ge 297 ]
}

# ---- 4. unshaped traffic loses nothing; pause/restart recovers ---------------

scenario_lossless() { # mode
  local mode=$1 s0=() s1=() k
  local keys="inner_rx_frames outer_tx_frames inner_kernel_drops outer_tx_dropped driver_completed_failed"
  if [ "$mode" = qoslwf ]; then sleep 0.3; for k in $keys; do s0+=("$(lwfhost_stat $k)"); done; fi
  local vb0 rb0; vb0=$(vb_tx_dropped); rb0=$(rcv_udp_rcvbuf_errors)
  bg in_r taskset -c 1 iperf3 -s -1 -p $P_FREE >/dev/null 2>&1
  local srv=${E2E_PIDS[-1]}
  wait_tcp_listen $P_FREE
  in_s taskset -c 0 iperf3 -c $R4 -p $P_FREE -u -b 50M -l 1400 -t 3 -J >"$E2E_RUN/loss-$mode.json" 2>&1 || true
  wait "$srv" 2>/dev/null || true
  local lost total
  lost=$(jq -r '.end.sum.lost_packets // "?"' "$E2E_RUN/loss-$mode.json")
  total=$(jq -r '.end.sum.packets // "?"' "$E2E_RUN/loss-$mode.json")
  local vbd=$(( $(vb_tx_dropped) - vb0 )) rbd=$(( $(rcv_udp_rcvbuf_errors) - rb0 ))
  log "unshaped UDP 50 Mbit/s ($mode): lost $lost of $total end to end; receiver host drops: veth backlog $vbd, UDP socket buffer $rbd"
  record "$mode" "unshaped udp 50M lost (end to end)" "$lost/$total"
  if [ "$mode" = qoslwf ]; then
    sleep 0.3
    for k in $keys; do s1+=("$(lwfhost_stat $k)"); done
    local rx=$(( s1[0] - s0[0] )) tx=$(( s1[1] - s0[1] )) kd=$(( s1[2] - s0[2] ))
    local sd=$(( s1[3] - s0[3] )) df=$(( s1[4] - s0[4] ))
    log "  lwfhost during the test: read $rx frames, wrote $tx, socket drops $kd, send errors $sd, driver failed completions $df"
    record "$mode" "unshaped: driver+lwfhost drops (read-written, failed completions)" "$(( rx - tx ))+$df of $rx"
    [ "$df" = 0 ] || fail "qoslwf: the driver failed $df unshaped sends"
    [ "$rx" = "$tx" ] || fail "qoslwf: lwfhost read $rx frames and wrote $tx"
  fi
  record "$mode" "unshaped: receiver host drops (veth backlog + UDP rcvbuf)" "$(( vbd + rbd ))"
  # Drops in the receiving host (its backlog or the iperf3 socket on a starved
  # vCPU) are the host's, counted by its kernel; any other loss fails.
  [ "$(( lost - vbd - rbd ))" -le 0 ] ||
    fail "$mode: unshaped UDP lost $lost of $total datagrams (receiver host drops: $vbd + $rbd)"
}

scenario_pause_restart() { # (qoslwf only)
  configure qoslwf 10
  bg in_r taskset -c 1 iperf3 -s -1 -p $P_BULK >/dev/null 2>&1
  local srv=${E2E_PIDS[-1]}
  wait_tcp_listen $P_BULK
  in_s taskset -c 0 iperf3 -c $R4 -p $P_BULK -t 6 -i 1 -C cubic -J --get-server-output >"$E2E_RUN/pause.json" 2>&1 &
  local cli=$!
  sleep 2
  lwfhost_signal USR1
  sleep 0.5
  lwfhost_signal USR2
  local rc=0
  wait $cli || rc=$?
  wait "$srv" 2>/dev/null || true
  local last
  # Receiver-side intervals (the client's count bytes written to its socket).
  # Pause at 2.0 s, restart at 2.5 s: the server's 3-4 s and 4-5 s intervals.
  last=$(jq -r '.server_output_text // ""' "$E2E_RUN/pause.json" 2>/dev/null | awk '
    / sec / && /bits\/sec/ {
      split($3, t, "-"); if (t[1] + 0 < 3.0 || t[2] + 0 > 5.0) next;
      u = $NF; r = $(NF - 1); m = (u ~ /^G/) ? 1e9 : (u ~ /^M/) ? 1e6 : (u ~ /^K/) ? 1e3 : 1;
      sum += r * m; n++ }
    END { printf "%.0f\n", (n ? sum / n : 0) }')
  grep -q "lwfhost: paused" "$E2E_RUN/lwfhost.log" || fail "pause/restart: lwfhost did not pause"
  grep -q "lwfhost: restarted" "$E2E_RUN/lwfhost.log" || fail "pause/restart: lwfhost did not restart"
  log "pause/restart during shaped TCP: iperf3 rc=$rc, receiver goodput over 2 s after restart $last bit/s"
  record qoslwf "pause/restart: receiver goodput after restart (shaped 10M)" "$last"
  [ $rc = 0 ] || fail "pause/restart: iperf3 failed (rc $rc)"
  fge "$last" 5000000 || fail "pause/restart: TCP did not recover ($last bit/s after restart, shaped at 10 Mbit/s)"
  fle "$last" 10300000 || fail "pause/restart: not shaped after restart ($last bit/s goodput, shaped at 10 Mbit/s)"
}
