#!/usr/bin/env python3
"""Writes a seed corpus for the `parse` fuzz target: hand-built frames
(Ethernet, one and two tags, raw IP, IPv4 options/fragments/AH, IPv6
extension chains, later fragments, ESP, ICMP/ICMPv6), each whole (first
byte 0: no split) and split at three points, so that fuzzing starts deep
in the extension-header walk and the marker instead of rediscovering the
formats. The bytes are built here, not by the parser.

Usage: python3 seeds.py corpus/parse   (corpus/ is gitignored)
"""
import os
import struct
import sys

def csum(h):
    s=sum(struct.unpack('!%dH'%(len(h)//2),h))
    while s>>16: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
def v4(proto, payload, ds=0, opts=b'', frag=0):
    ihl=5+len(opts)//4
    h=struct.pack('!BBHHHBBH4s4s',0x40|ihl,ds,ihl*4+len(payload),1,frag,64,proto,0,bytes([10,0,0,1]),bytes([10,0,0,2]))+opts
    c=csum(h); h=h[:10]+struct.pack('!H',c)+h[12:]
    return h+payload
def v6(nh, payload, tc=0):
    return struct.pack('!IHBB',(6<<28)|(tc<<20)|0x12345,len(payload),nh,64)+bytes(range(16))+bytes(range(16,32))+payload
tcp=struct.pack('!HHIIBBHHH',49152,443,1,0,0x50,0x10,1000,0,0)
udp=struct.pack('!HHHH',5353,53,8,0)
icmp=bytes([8,0,0,0,0,1,0,1])
eth=lambda et: bytes(12)+struct.pack('!H',et)
tag=lambda tpid,tci: struct.pack('!HH',tpid,tci)
def ext(nh, units=0): return bytes([nh,units])+bytes(6+8*units)
def frag(nh, off, m): return struct.pack('!BBHI',nh,0,(off<<3)|m,0xcafe)
def ah(nh, words): return bytes([nh, words+1])+bytes(2)+struct.pack('!II',1,1)+bytes(4*words)
seeds={
 'v4tcp': eth(0x0800)+v4(6,tcp,0xb9),
 'v4udp_tag': bytes(12)+tag(0x8100,0xa064)+struct.pack('!H',0x0800)+v4(17,udp),
 'v4icmp_2tags': bytes(12)+tag(0x88a8,0x2001)+tag(0x8100,0x0002)+struct.pack('!H',0x0800)+v4(1,icmp),
 'v4opts': eth(0x0800)+v4(6,tcp,opts=bytes([7,11,4])+bytes(9)),
 'v4frag': eth(0x0800)+v4(17,udp,frag=0x2000),
 'v4later': eth(0x0800)+v4(17,udp,frag=0x0010),
 'v4ah': eth(0x0800)+v4(51,ah(6,1)+tcp),
 'v6tcp': eth(0x86dd)+v6(6,tcp,0x2e),
 'v6chain': eth(0x86dd)+v6(0,ext(60)+ext(43,1)+ext(44)+frag(51,0,1)+ah(60,2)+ext(17)+udp),
 'v6later': bytes(12)+tag(0x9100,0x0005)+struct.pack('!H',0x86dd)+v6(44,frag(6,100,1)+tcp),
 'v6esp': eth(0x86dd)+v6(0,ext(50)+bytes(16)),
 'v6icmp': eth(0x86dd)+v6(58,bytes([128,0,0,0])),
 'raw4': v4(6,tcp),
 'raw6': v6(17,udp),
}
out = sys.argv[1] if len(sys.argv) > 1 else "corpus/parse"
os.makedirs(out, exist_ok=True)
for name, frame in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([0]) + frame)
    with open(os.path.join(out, name + "_split"), "wb") as f:
        f.write(bytes([3]) + struct.pack("<HHH", 5, 20, 21) + frame)
print(len(seeds) * 2, "seeds in", out)
