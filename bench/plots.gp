# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# Plots for docs/PERFORMANCE.md, from the series yank-bench writes.
#   gnuplot -e "datadir='DIR'; outdir='docs'" bench/plots.gp

set terminal svg size 760,460 dynamic enhanced font "sans,12" background rgb "white"
set grid xtics ytics mxtics mytics lc rgb "#dddddd" lw 1
set key top left box opaque
set border lw 1
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 0.9
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 0.9
set style line 3 lc rgb "#2ca02c" lw 2 pt 9 ps 1.0
set style line 4 lc rgb "#9467bd" lw 2 pt 11 ps 1.0
set style line 9 lc rgb "#888888" lw 1 dt 2

# ---- registration: O(1) against the list's O(n) ----
set output outdir."/perf-registration.svg"
set title "Register + unregister one instance, against instances already present"
set logscale xy
set xlabel "instances already registered"
set ylabel "time per register + unregister pair (ns)"
set xrange [0.7:14000]
set format y "10^{%L}"
plot datadir."/scale-register.dat" using 1:2 with linespoints ls 1 title "libyank (hash chains, robust mutex, shared memory)", \
     ""                            using 1:4 with linespoints ls 2 title "baseline: mutex + list + malloc (QEMU util/yank.c)"

# ---- readers: query and one-instance yank against the registry size ----
set output outdir."/perf-query.svg"
set title "Reading the registry: cost against instances in it"
set xlabel "instances in the registry (slots below the high-water mark)"
set ylabel "time (µs)"
set xrange [0.7:14000]
set format y "%g"
set key top left
plot datadir."/scale-query.dat"  using 1:2 with linespoints ls 1 title "yank\\_query, median", \
     ""                          using 1:3 with lines ls 9 title "yank\\_query, p99", \
     datadir."/yank-vs-size.dat" using 1:2 with linespoints ls 2 title "yank\\_yank of one instance (the last one), to the victim's EOF", \
     datadir."/scale-query.dat"  using 1:4 with linespoints ls 4 title "yank\\_yank validating the 100 newest instances (no agent asked)", \
     "+" using (10):(10) every ::0::0 with points ls 3 pt 6 ps 2 title "targets: 10 µs at 10, 1 ms at 10,000", \
     "+" using (10000):(1000) every ::0::0 with points ls 3 pt 6 ps 2 notitle

# ---- many owners ----
set output outdir."/perf-yank-owners.svg"
set title "One yank\\_yank call across owner processes"
set logscale xy
set xlabel "owner processes"
set ylabel "time (ms)"
set xrange [0.8:70]
set xtics (1, 2, 5, 10, 20, 50)
set key top left
plot datadir."/scale-yank.dat" using 1:($3/1000) with linespoints ls 1 title "1 instance per owner: call to return", \
     ""                        using 1:($5/1000) with linespoints ls 2 title "20 instances per owner: call to return", \
     ""                        using 1:($4/1000) with linespoints ls 4 title "20 instances per owner: to the last victim's EOF", \
     "+" using (50):(50) every ::0::0 with points ls 3 pt 6 ps 2 title "target: 1,000 instances over 50 owners in 50 ms"
set xtics autofreq

# ---- end-to-end latency distributions ----
set output outdir."/perf-latency-cdf.svg"
set title "Start of a yank to the victim's recv() returning (cumulative)"
set logscale x
unset logscale y
set xlabel "latency (ms)"
set ylabel "fraction of rounds"
set xrange [0.02:10]
set yrange [0:1.02]
set key bottom right
set arrow 1 from 0.2, graph 0 to 0.2, graph 1 nohead ls 9
set arrow 2 from 2, graph 0 to 2, graph 1 nohead ls 9
set label 1 "0.2 ms target" at 0.21, graph 0.45
set label 2 "2 ms target" at 2.1, graph 0.45
plot datadir."/e2e-library.dat" using ($1/1000):2 with lines ls 1 title "yank\\_yank() from a long-lived caller", \
     datadir."/e2e-yankctl.dat" using ($1/1000):2 with lines ls 2 title "yankctl yank (fork + exec)", \
     datadir."/spawn-true.dat"  using ($1/1000):2 with lines ls 9 lw 2 title "fork + exec + wait of /bin/true"
unset arrow 1
unset arrow 2
unset label 1
unset label 2

# ---- contention ----
set output outdir."/perf-contention.svg"
set title "Registration throughput, processes contending for one registry"
unset logscale
set xlabel "processes registering and unregistering at once"
set ylabel "register + unregister pairs per second (millions)"
set y2label "ns per pair in each process"
set xrange [0.4:2.6]
set yrange [0:*]
set y2range [0:*]
set xtics (1, 2)
set ytics nomirror
set y2tics
set boxwidth 0.35
set style fill solid 0.6 border -1
set key top left
plot datadir."/scale-contention.dat" using ($1-0.18):($2/1e6) with boxes ls 1 title "total throughput", \
     ""                              using ($1+0.18):3 axes x1y2 with boxes ls 2 title "time per pair, each process"
