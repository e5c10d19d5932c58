#!/usr/bin/env python3
"""Generates a large topology for the import and lookup benchmarks.

    python3 generate.py [OFFICES] [RANGES] > big.csv      (default 10000 50000)
    python3 generate.py --addrs N > addrs.txt             random addresses

Offices form a tree: a Central Office, 100 regions, branches under them, and
every 10th branch has a wifi office child. Each office gets RANGES/OFFICES
disjoint ranges: IPv4 /26 blocks in 10.0.0.0/8 (every 5th one a start-end
pair) and every 4th office one IPv6 /56 as well. Deterministic (seeded).
"""
import ipaddress
import random
import sys

random.seed(42)

if len(sys.argv) > 1 and sys.argv[1] == "--addrs":
    n = int(sys.argv[2])
    for _ in range(n):
        # Mostly inside 10.0.0.0/8 (hits and gaps), some IPv6.
        if random.random() < 0.9:
            print(ipaddress.IPv4Address(0x0A000000 + random.randrange(1 << 24)))
        else:
            print(ipaddress.IPv6Address((0x20010DB8 << 96) + random.randrange(1 << 72)))
    sys.exit(0)

offices = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
ranges = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
per = ranges // offices
regions = 100

out = sys.stdout
out.write("office,parent,type,ranges,wan_kbps,description\n")
# /26 blocks, spaced every /25, so neighbouring ranges leave gaps (no-office
# addresses exist for the lookup benchmark). 2^17 blocks fit 10.0.0.0/8.
block = 0
v4_slots = 1 << 17
assert offices * per <= v4_slots, "too many ranges for 10.0.0.0/8"
order = list(range(v4_slots))
random.shuffle(order)
for i in range(offices):
    specs = []
    for _ in range(per - (1 if i % 4 == 0 else 0)):
        base = 0x0A000000 + order[block] * 128
        block += 1
        if block % 5 == 0:
            a, b = ipaddress.IPv4Address(base + 1), ipaddress.IPv4Address(base + 60)
            specs.append(f"{a}-{b}")
        else:
            specs.append(f"{ipaddress.IPv4Address(base)}/26")
    if i % 4 == 0:
        specs.append(f"{ipaddress.IPv6Address((0x20010DB8 << 96) + (i << 72))}/56")
    if i == 0:
        name, parent, kind = "Central Office", "", "default"
    elif i <= regions:
        name, parent, kind = f"Region {i}", "Central Office", "default"
    elif i % 10 == 0:
        name, parent, kind = f"Branch {i} WiFi", f"Branch {i - 1}", "wifi"
    else:
        name, parent, kind = f"Branch {i}", f"Region {1 + i % regions}", "default"
    wan = "" if i == 0 else str(1000 * (1 + i % 100))
    out.write(f'{name},{parent},{kind},{" ".join(specs)},{wan},generated\n')
