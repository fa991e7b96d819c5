#!/usr/bin/env bash
# Prints the side-by-side table (qoslwf vs Linux tc) from run.sh's results
# (MODE<TAB>KEY<TAB>VALUE lines). Usage: table.sh [results.tsv]
set -euo pipefail
f=${1:-/run/qoslwf-e2e/results.tsv}
[ -s "$f" ] || { echo "no results in $f" >&2; exit 1; }
awk -F'\t' '
  { if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } v[$1, $2] = $3 }
  END {
    printf "\n| scenario | qoslwf (lwfhost) | Linux tc (htb+u32, iptables DSCP) |\n|---|---|---|\n";
    for (i = 1; i <= n; i++) {
      k = order[i]; q = v["qoslwf", k]; t = v["tc", k];
      if (k in v) {}
      if (v["all", k] != "") { q = v["all", k]; t = "" }
      printf "| %s | %s | %s |\n", k, (q == "" ? "-" : q), (t == "" ? "-" : t);
    }
    print "";
    print "Rate ratio = achieved / configured, over the steady part of a 5 s iperf3 run, measured on the";
    print "receiver interface counters: qoslwf counts IP-layer bytes (QOS2 token rates exclude the link";
    print "header), tc counts frame bytes (htb/tbf include the 14-byte Ethernet header). Goodput = iperf3";
    print "receiver goodput / configured rate. RTT = UDP echo in the Guaranteed flow (port 7000) every 10 ms;";
    print "\"loaded\" = while bulk TCP saturates its 10 Mbit/s shaped flow. Marks: DSCP/ECN/PCP values seen";
    print "by tshark on the receiver (badcsum = IPv4 header checksums tshark found wrong).";
  }' "$f"
