<#
.SYNOPSIS
  The qoslwf test pass on a Windows test VM (`cargo make hlk`): install /
  uninstall loops, Driver Verifier, two-way traffic, adapter disable / enable /
  restart loops, tcctl configuration storms, a pktmon capture checked for the
  DSCP marks, pool usage back to its start. Prints PASS / FAIL / SKIP per step.

.DESCRIPTION
  Needs, on the VM (elevated PowerShell, test signing on, Secure Boot off):
  - the driver package (`cargo make package`, copied here) and tcctl.exe;
  - iperf3.exe (3.7 or later) on PATH or -Iperf, and a peer machine reachable
    through -Adapter that runs `iperf3 -s -p <Port>` on -PeerV4 (and -PeerV6
    for the IPv6 steps);
  - the in-box tools verifier.exe, pktmon.exe (Windows 10 2004 or later),
    netcfg.exe, pnputil.exe.

  Driver Verifier takes effect after a reboot. The first run enables it
  (verifier /flags 0x002A0B3B /driver qoslwf.sys ndis.sys: the NDIS/WIFI
  verification set the HLK recommends) and stops with "reboot, then run this
  again"; the second run does the rest. A verifier violation bugchecks the VM:
  each run therefore also fails if the System log has a bugcheck (event 1001)
  or a new minidump since the first run of this results folder.

  Results (per-step logs, iperf3 JSON, pktmon ETL/pcapng, summary.txt and
  summary.json) go to -ResultsDir. The exit code is 0 when every step that ran
  passed, 1 when one failed, 3 when a reboot is needed first.

.EXAMPLE
  .\hlk.ps1 -Adapter Ethernet1 -PeerV4 192.0.2.2 -PeerV6 2001:db8::2 -Tcctl C:\qoslwf\tcctl.exe
#>
param(
    [Parameter(Mandatory)] [string] $Adapter,
    [Parameter(Mandatory)] [string] $PeerV4,
    [string] $PeerV6 = '',
    [int] $Port = 5201,
    [string] $PackageDir = '',
    [string] $Tcctl = 'tcctl.exe',
    [string] $Iperf = 'iperf3.exe',
    [int] $InstallIterations = 50,
    [int] $AdapterIterations = 10,
    [int] $TrafficSeconds = 10,
    [int] $StormSeconds = 60,
    [ValidateRange(1, 63)] [int] $Dscp = 46,
    [double] $MaxUdpLossPercent = 5.0,
    [string] $UdpRate = '200M',
    [long] $PoolSlackBytes = 0,
    [string] $ResultsDir = '',
    [switch] $SkipVerifier,
    [switch] $KeepInstalled
)
. "$PSScriptRoot\common.ps1"
Assert-Admin

if (-not $PackageDir) { $PackageDir = Get-PackageDir }
if (-not $ResultsDir) { $ResultsDir = Join-Path (Get-TargetDir) 'hlk-results' }
New-Item -ItemType Directory -Force -Path $ResultsDir | Out-Null
$statePath = Join-Path $ResultsDir 'state.json'
$state = $null
if (Test-Path $statePath) { $state = Get-Content $statePath -Raw | ConvertFrom-Json }
if (-not $state) {
    $state = [pscustomobject]@{ FirstRun = (Get-Date).ToString('o') }
    $state | ConvertTo-Json | Set-Content $statePath
}
$firstRun = [datetime]::Parse($state.FirstRun, $null, [Globalization.DateTimeStyles]::RoundtripKind)

$Script:Results = New-Object System.Collections.Generic.List[object]
$Script:PoolTag = 'QLwf'   # driver/lwf/src/ids.rs POOL_TAG and src/rt/pool.rs

# --------------------------------------------------------------------------
# Step bookkeeping
# --------------------------------------------------------------------------
function Add-Result([string] $Step, [string] $Result, [string] $Detail) {
    $Script:Results.Add([pscustomobject]@{ Step = $Step; Result = $Result; Detail = $Detail })
    $color = @{ PASS = 'Green'; FAIL = 'Red'; SKIP = 'Yellow'; REBOOT = 'Yellow' }[$Result]
    Write-Host ("[{0}] {1}: {2}" -f $Result, $Step, $Detail) -ForegroundColor $color
}

# Runs a step: its script block returns a detail string (PASS) or throws (FAIL).
function Invoke-Step([string] $Step, [scriptblock] $Body) {
    Write-Host "`n=== $Step ===" -ForegroundColor Cyan
    $started = Get-Date
    try {
        $out = @(& $Body)
        $detail = ''
        if ($out.Count -gt 0) { $detail = "$($out[-1])" }
        $took = [int]((Get-Date) - $started).TotalSeconds
        Add-Result $Step 'PASS' ("{0} ({1}s)" -f $detail, $took)
        return $true
    } catch {
        Add-Result $Step 'FAIL' ($_.Exception.Message -replace "`r?`n", ' | ')
        return $false
    }
}

function Skip-Step([string] $Step, [string] $Why) { Add-Result $Step 'SKIP' $Why }

function Write-Summary {
    $lines = $Script:Results | Format-Table -AutoSize -Wrap | Out-String -Width 200
    $lines | Set-Content (Join-Path $ResultsDir 'summary.txt')
    $Script:Results | ConvertTo-Json | Set-Content (Join-Path $ResultsDir 'summary.json')
    Write-Host "`n===== qoslwf test pass summary ($ResultsDir) =====" -ForegroundColor Cyan
    Write-Host $lines
    $failed = @($Script:Results | Where-Object { $_.Result -eq 'FAIL' }).Count
    $passed = @($Script:Results | Where-Object { $_.Result -eq 'PASS' }).Count
    $skipped = @($Script:Results | Where-Object { $_.Result -eq 'SKIP' }).Count
    Write-Host ("{0} passed, {1} failed, {2} skipped" -f $passed, $failed, $skipped)
    if ($failed -gt 0) { return 1 }
    return 0
}

# --------------------------------------------------------------------------
# Pool usage per tag: NtQuerySystemInformation(SystemPoolTagInformation = 22),
# the source poolmon reads. SYSTEM_POOLTAG (x64, 40 bytes): Tag[4],
# PagedAllocs u32 @4, PagedFrees u32 @8, PagedUsed size_t @16,
# NonPagedAllocs u32 @24, NonPagedFrees u32 @28, NonPagedUsed size_t @32;
# the array starts at offset 8 after the ULONG count.
# --------------------------------------------------------------------------
Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
public static class QosLwfPool {
    [DllImport("ntdll.dll")]
    static extern int NtQuerySystemInformation(int cls, IntPtr buf, int len, out int needed);
    public static long[] Query(string tag) {
        int size = 1 << 20;
        for (int attempt = 0; attempt < 8; attempt++) {
            IntPtr buf = Marshal.AllocHGlobal(size);
            try {
                int needed;
                int status = NtQuerySystemInformation(22, buf, size, out needed);
                if (status == unchecked((int)0xC0000004)) { size = Math.Max(size * 2, needed + 4096); continue; }
                if (status != 0) throw new InvalidOperationException(string.Format("NtQuerySystemInformation: 0x{0:X8}", status));
                int count = Marshal.ReadInt32(buf);
                for (int i = 0; i < count; i++) {
                    IntPtr e = IntPtr.Add(buf, 8 + i * 40);
                    byte[] t = new byte[4];
                    Marshal.Copy(e, t, 0, 4);
                    if (System.Text.Encoding.ASCII.GetString(t) != tag) continue;
                    long nAllocs = (uint)Marshal.ReadInt32(e, 24), nFrees = (uint)Marshal.ReadInt32(e, 28);
                    long pAllocs = (uint)Marshal.ReadInt32(e, 4), pFrees = (uint)Marshal.ReadInt32(e, 8);
                    return new long[] { nAllocs - nFrees, Marshal.ReadInt64(e, 32), pAllocs - pFrees, Marshal.ReadInt64(e, 16) };
                }
                return new long[] { 0, 0, 0, 0 };
            } finally { Marshal.FreeHGlobal(buf); }
        }
        throw new InvalidOperationException("SystemPoolTagInformation: buffer keeps growing");
    }
}
'@

function Get-PoolUsage {
    $q = [QosLwfPool]::Query($Script:PoolTag)
    return [pscustomobject]@{
        NonPagedAllocations = $q[0]; NonPagedBytes = $q[1]; PagedAllocations = $q[2]; PagedBytes = $q[3]
    }
}

function Format-Pool($p) {
    return ("nonpaged {0} allocs / {1} B, paged {2} allocs / {3} B" -f
        $p.NonPagedAllocations, $p.NonPagedBytes, $p.PagedAllocations, $p.PagedBytes)
}

# --------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------
function Invoke-Tcctl([string[]] $Arguments) {
    $r = Invoke-NativeRaw $Tcctl $Arguments
    if ($r.Code -ne 0) { throw ("tcctl {0} -> exit {1}: {2}" -f ($Arguments -join ' '), $r.Code, $r.Output.Trim()) }
    return $r.Output
}

# One iperf3 client run; returns the parsed JSON. Throws on failure or zero
# throughput, or UDP loss above the limit.
function Invoke-Iperf {
    param([string] $Peer, [switch] $Udp, [switch] $Reverse, [ValidateSet(4, 6)] [int] $Family = 4,
          [int] $Seconds = $TrafficSeconds, [string] $Tag = 'iperf')
    $a = @('-c', $Peer, '-p', "$Port", '-t', "$Seconds", '-J')
    if ($Udp) { $a += @('-u', '-b', $UdpRate) }
    if ($Reverse) { $a += '-R' }
    $a += "-$Family"
    $r = Invoke-NativeRaw $Iperf $a
    $r.Output | Set-Content (Join-Path $ResultsDir "$Tag.json")
    if ($r.Code -ne 0) { throw "iperf3 $($a -join ' ') exited $($r.Code) (see $Tag.json)" }
    $j = $r.Output | ConvertFrom-Json
    if ($Udp) {
        $bps = [double]$j.end.sum.bits_per_second
        $loss = [double]$j.end.sum.lost_percent
        if ($bps -le 0) { throw "UDP: no throughput" }
        if ($loss -gt $MaxUdpLossPercent) { throw ("UDP loss {0:N2}% > {1}%" -f $loss, $MaxUdpLossPercent) }
        return ("{0:N1} Mbit/s, loss {1:N2}%" -f ($bps / 1e6), $loss)
    }
    $bps = [double]$j.end.sum_received.bits_per_second
    if ($bps -le 0) { throw "TCP: no throughput" }
    return ("{0:N1} Mbit/s" -f ($bps / 1e6))
}

# A background iperf3 client (for the loops); returns the process.
function Start-BackgroundIperf([string] $Peer, [int] $Seconds, [string] $Tag) {
    $out = Join-Path $ResultsDir "$Tag.json"
    $err = Join-Path $ResultsDir "$Tag.err.txt"
    return Start-Process -FilePath $Iperf -ArgumentList @('-c', $Peer, '-p', "$Port", '-t', "$Seconds", '-J', '-4') `
        -RedirectStandardOutput $out -RedirectStandardError $err -PassThru -NoNewWindow
}

function Stop-BackgroundIperf($Process) {
    if ($Process -and -not $Process.HasExited) {
        Stop-Process -Id $Process.Id -Force -ErrorAction SilentlyContinue
    }
}

function Wait-AdapterUp([int] $TimeoutSeconds = 90) {
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    do {
        $a = Get-NetAdapter -Name $Adapter -ErrorAction SilentlyContinue
        if ($a -and $a.Status -eq 'Up') { return }
        Start-Sleep -Milliseconds 500
    } while ((Get-Date) -lt $deadline)
    throw "adapter $Adapter is not Up after $TimeoutSeconds s"
}

function Wait-Peer([int] $TimeoutSeconds = 60) {
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    do {
        if (Test-Connection -ComputerName $PeerV4 -Count 1 -Quiet -ErrorAction SilentlyContinue) { return }
        Start-Sleep -Seconds 1
    } while ((Get-Date) -lt $deadline)
    throw "peer $PeerV4 does not answer pings after $TimeoutSeconds s"
}

function Assert-Bound {
    $b = Get-NetAdapterBinding -Name $Adapter -ComponentID $Script:ComponentId -ErrorAction SilentlyContinue
    if (-not $b -or -not $b.Enabled) { throw "$Script:ComponentId is not bound (enabled) on $Adapter" }
}

# --------------------------------------------------------------------------
# pcapng reader (enough for pktmon etl2pcap output): Section Header,
# Interface Description (link type per interface) and Enhanced Packet
# blocks. Returns the DSCP of every IPv4/IPv6 TCP segment to $Port.
# --------------------------------------------------------------------------
function Get-DscpToPort([string] $Path, [int] $DstPort) {
    $bytes = [IO.File]::ReadAllBytes($Path)
    $linkTypes = New-Object System.Collections.Generic.List[int]
    $marks = New-Object System.Collections.Generic.List[object]
    $off = 0
    while ($off + 12 -le $bytes.Length) {
        $type = [BitConverter]::ToUInt32($bytes, $off)
        $len = [int][BitConverter]::ToUInt32($bytes, $off + 4)
        if ($len -lt 12 -or $off + $len -gt $bytes.Length) { break }
        if ($type -eq 0x0A0D0D0A) {
            $linkTypes.Clear()      # a new section restarts interface numbering
        } elseif ($type -eq 1) {
            $linkTypes.Add([BitConverter]::ToUInt16($bytes, $off + 8))
        } elseif ($type -eq 6) {
            $iface = [int][BitConverter]::ToUInt32($bytes, $off + 8)
            $capLen = [int][BitConverter]::ToUInt32($bytes, $off + 20)
            $p = $off + 28
            $end = $p + $capLen
            $link = 1
            if ($iface -lt $linkTypes.Count) { $link = $linkTypes[$iface] }
            $ip = -1
            if ($link -eq 1) {
                $etherType = ($bytes[$p + 12] -shl 8) -bor $bytes[$p + 13]
                $ip = $p + 14
                while ($etherType -eq 0x8100 -or $etherType -eq 0x88A8) {
                    $etherType = ($bytes[$ip + 2] -shl 8) -bor $bytes[$ip + 3]
                    $ip += 4
                }
                if ($etherType -ne 0x0800 -and $etherType -ne 0x86DD) { $ip = -1 }
            } elseif ($link -eq 101 -or $link -eq 228 -or $link -eq 229) {
                $ip = $p
            }
            if ($ip -ge 0 -and $ip + 40 -le $end) {
                $version = $bytes[$ip] -shr 4
                $dscp = -1; $proto = -1; $l4 = -1
                if ($version -eq 4) {
                    $dscp = $bytes[$ip + 1] -shr 2
                    $proto = $bytes[$ip + 9]
                    $l4 = $ip + (($bytes[$ip] -band 0x0F) * 4)
                } elseif ($version -eq 6) {
                    $dscp = ((($bytes[$ip] -band 0x0F) -shl 4) -bor ($bytes[$ip + 1] -shr 4)) -shr 2
                    $proto = $bytes[$ip + 6]     # no extension headers expected for iperf3 TCP
                    $l4 = $ip + 40
                }
                if ($proto -eq 6 -and $l4 + 4 -le $end) {
                    $dport = ($bytes[$l4 + 2] -shl 8) -bor $bytes[$l4 + 3]
                    if ($dport -eq $DstPort) {
                        $marks.Add([pscustomobject]@{ Version = $version; Dscp = $dscp })
                    }
                }
            }
        }
        $off += $len
    }
    return $marks
}

# Captures at the NIC layer while iperf3 sends to $Peer, and checks that
# every TCP segment to $Port leaves with the configured DSCP.
function Test-DscpMarks([string] $Peer, [int] $Family, [string] $Tag) {
    $etl = Join-Path $ResultsDir "$Tag.etl"
    $pcap = Join-Path $ResultsDir "$Tag.pcapng"
    Invoke-NativeRaw 'pktmon.exe' @('stop') | Out-Null
    Invoke-Native 'pktmon.exe' @('filter', 'remove') | Out-Null
    Invoke-Native 'pktmon.exe' @('filter', 'add', 'qoslwf-hlk', '-t', 'TCP', '-p', "$Port") | Out-Null
    Invoke-Native 'pktmon.exe' @('start', '--capture', '--comp', 'nics', '--pkt-size', '128', '--file-name', $etl) | Out-Null
    try {
        $rate = Invoke-Iperf -Peer $Peer -Family $Family -Seconds 5 -Tag "$Tag-iperf"
    } finally {
        Invoke-NativeRaw 'pktmon.exe' @('stop') | Out-Null
        Invoke-NativeRaw 'pktmon.exe' @('filter', 'remove') | Out-Null
    }
    Invoke-Native 'pktmon.exe' @('etl2pcap', $etl, '--out', $pcap) | Out-Null
    $marks = @(Get-DscpToPort $pcap $Port)
    $want = $Family
    $mine = @($marks | Where-Object { $_.Version -eq $want })
    if ($mine.Count -lt 100) { throw "only $($mine.Count) IPv$want segments to port $Port in $pcap" }
    $wrong = @($mine | Where-Object { $_.Dscp -ne $Dscp })
    if ($wrong.Count -gt 0) {
        $seen = ($wrong | Group-Object Dscp | ForEach-Object { "dscp $($_.Name) x$($_.Count)" }) -join ', '
        throw "$($wrong.Count) of $($mine.Count) IPv$want segments not marked $Dscp ($seen)"
    }
    return "$($mine.Count) IPv$want segments all DSCP $Dscp; $rate"
}

# --------------------------------------------------------------------------
# The pass
# --------------------------------------------------------------------------
$ok = Invoke-Step 'preflight' {
    if (-not (Test-TestSigning)) { throw 'test signing is off (bcdedit /set testsigning on, reboot)' }
    foreach ($f in 'qoslwf.sys', 'qoslwf.inf', 'qoslwf.cat', 'qoslwf-test.cer') {
        if (-not (Test-Path (Join-Path $PackageDir $f))) { throw "$f missing in $PackageDir (cargo make package)" }
    }
    foreach ($tool in $Iperf, $Tcctl, 'pktmon.exe', 'verifier.exe', 'netcfg.exe', 'pnputil.exe') {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "$tool not found" }
    }
    $a = Get-NetAdapter -Name $Adapter -ErrorAction SilentlyContinue
    if (-not $a) { throw "no adapter named $Adapter (Get-NetAdapter)" }
    Wait-AdapterUp 10
    Wait-Peer 10
    $build = [Environment]::OSVersion.Version.Build
    if ($build -lt 19041) { throw "Windows build $build: qoslwf needs Windows 10 2004 (19041) or later (ExAllocatePool2)" }
    "package $PackageDir, adapter $Adapter ($($a.InterfaceDescription)), Windows build $build"
}
if (-not $ok) { exit (Write-Summary) }

Invoke-Step 'no bugcheck since the first run' {
    $events = @(Get-WinEvent -FilterHashtable @{ LogName = 'System'; Id = 1001; StartTime = $firstRun } -ErrorAction SilentlyContinue |
        Where-Object { $_.ProviderName -match 'WER-SystemErrorReporting|BugCheck' })
    $dumps = @(Get-ChildItem -Path (Join-Path $env:SystemRoot 'Minidump') -Filter '*.dmp' -ErrorAction SilentlyContinue |
        Where-Object { $_.LastWriteTime -gt $firstRun })
    if ($events.Count -gt 0 -or $dumps.Count -gt 0) {
        $what = ($events | Select-Object -First 1 | ForEach-Object { $_.Message }) -join ''
        throw "$($events.Count) bugcheck event(s), $($dumps.Count) new minidump(s) since $firstRun. $what"
    }
    "none since $firstRun"
} | Out-Null

# Driver Verifier: persistent settings, active after a reboot.
if ($SkipVerifier) {
    Skip-Step 'driver verifier' '-SkipVerifier'
} else {
    $settings = (Invoke-NativeRaw 'verifier.exe' @('/querysettings')).Output
    $active = (Invoke-NativeRaw 'verifier.exe' @('/query')).Output
    $configured = ($settings -match '(?i)qoslwf\.sys') -and ($settings -match '(?i)ndis\.sys')
    if (-not $configured) {
        $r = Invoke-NativeRaw 'verifier.exe' @('/flags', '0x002A0B3B', '/driver', 'qoslwf.sys', 'ndis.sys')
        $r.Output | Set-Content (Join-Path $ResultsDir 'verifier-enable.txt')
        # Judge by the settings it leaves, not by its exit code (which
        # signals "reboot needed" on success).
        $settings = (Invoke-NativeRaw 'verifier.exe' @('/querysettings')).Output
        if (-not (($settings -match '(?i)qoslwf\.sys') -and ($settings -match '(?i)ndis\.sys'))) {
            Add-Result 'driver verifier' 'FAIL' "verifier /flags 0x002A0B3B /driver qoslwf.sys ndis.sys did not take (exit $($r.Code)); see verifier-enable.txt"
        } else {
            Add-Result 'driver verifier' 'REBOOT' 'enabled for qoslwf.sys ndis.sys (flags 0x002A0B3B): reboot, then run hlk.ps1 again'
            Write-Summary | Out-Null
            exit 3
        }
    } elseif ($active -notmatch '(?i)ndis\.sys') {
        Add-Result 'driver verifier' 'REBOOT' 'configured but not active yet: reboot, then run hlk.ps1 again'
        Write-Summary | Out-Null
        exit 3
    } else {
        $settings | Set-Content (Join-Path $ResultsDir 'verifier-settings.txt')
        Add-Result 'driver verifier' 'PASS' 'active for qoslwf.sys and ndis.sys (flags 0x002A0B3B)'
    }
}

# Start from a clean slate (a leftover install from an aborted run).
try { & "$PSScriptRoot\uninstall.ps1" -Quiet -KeepDriverStore | Out-Null } catch { Write-Warning "cleanup: $_" }

$ok = Invoke-Step "install/uninstall x$InstallIterations" {
    $before = Get-PoolUsage
    for ($i = 1; $i -le $InstallIterations; $i++) {
        try {
            & "$PSScriptRoot\install.ps1" -PackageDir $PackageDir -Quiet | Out-Null
            Assert-Bound
            & "$PSScriptRoot\uninstall.ps1" -Quiet -KeepDriverStore | Out-Null
        } catch {
            throw "iteration ${i}: $($_.Exception.Message)"
        }
        if ($i % 10 -eq 0) {
            Wait-AdapterUp
            Wait-Peer
            Write-Host "  $i / $InstallIterations"
        }
    }
    $after = Get-PoolUsage
    if ($after.NonPagedAllocations -ne 0 -or $after.PagedAllocations -ne 0) {
        throw "pool tag $Script:PoolTag still holds memory with the driver unloaded: $(Format-Pool $after)"
    }
    "$InstallIterations cycles; tag $Script:PoolTag empty after unload (before: $(Format-Pool $before))"
}

$installed = Invoke-Step 'install' {
    & "$PSScriptRoot\install.ps1" -PackageDir $PackageDir | Out-Host
    Assert-Bound
    Wait-AdapterUp
    Wait-Peer
    $ifs = Invoke-Tcctl @('interfaces')
    if ($ifs -notmatch [regex]::Escape($Adapter) -and $ifs -notmatch [regex]::Escape((Get-NetAdapter -Name $Adapter).InterfaceDescription)) {
        throw "tcctl interfaces does not list $Adapter"
    }
    'installed, bound, tcctl sees the adapter'
}
if (-not $installed) { exit (Write-Summary) }

$poolStart = Get-PoolUsage
Add-Result 'pool baseline' 'PASS' (Format-Pool $poolStart)

# Traffic both ways, IPv4 and IPv6, TCP and UDP.
$families = @(@{ Name = 'IPv4'; Peer = $PeerV4; Family = 4 })
if ($PeerV6) { $families += @{ Name = 'IPv6'; Peer = $PeerV6; Family = 6 } }
foreach ($f in $families) {
    foreach ($udp in $false, $true) {
        foreach ($reverse in $false, $true) {
            $proto = 'TCP'; if ($udp) { $proto = 'UDP' }
            $dir = 'send'; if ($reverse) { $dir = 'receive' }
            $tag = "traffic-$($f.Name)-$proto-$dir"
            Invoke-Step "traffic $($f.Name) $proto $dir" {
                Invoke-Iperf -Peer $f.Peer -Udp:$udp -Reverse:$reverse -Family $f.Family -Tag $tag
            } | Out-Null
        }
    }
}
if (-not $PeerV6) { Skip-Step 'traffic IPv6' 'no -PeerV6' }

# DSCP marking seen on the wire (pktmon at the NIC, below the filter).
Invoke-Step "tcctl policy: DSCP $Dscp to TCP port $Port" {
    Invoke-Tcctl @('policy', 'add', '-i', $Adapter, 'qoslwf-hlk-dscp', '-p', 'tcp', '--dport', "$Port", '--dscp', "$Dscp") | Out-Null
    (Invoke-Tcctl @('policy', 'list', '-i', $Adapter)) | Set-Content (Join-Path $ResultsDir 'policy-list.txt')
    'added'
} | Out-Null
foreach ($f in $families) {
    Invoke-Step "pktmon: DSCP marks $($f.Name)" {
        Test-DscpMarks -Peer $f.Peer -Family $f.Family -Tag "pktmon-$($f.Name)"
    } | Out-Null
}
Invoke-Step 'tcctl policy: delete' {
    Invoke-Tcctl @('policy', 'del', '-i', $Adapter, 'qoslwf-hlk-dscp') | Out-Null
    'deleted'
} | Out-Null

# Adapter disable/enable and restart loops under traffic.
Invoke-Step "adapter disable/enable/restart x$AdapterIterations under traffic" {
    $iperf = Start-BackgroundIperf $PeerV4 ($AdapterIterations * 40 + 30) 'adapter-loop-iperf'
    try {
        for ($i = 1; $i -le $AdapterIterations; $i++) {
            Disable-NetAdapter -Name $Adapter -Confirm:$false
            Start-Sleep -Seconds 2
            Enable-NetAdapter -Name $Adapter -Confirm:$false
            Wait-AdapterUp
            Restart-NetAdapter -Name $Adapter -Confirm:$false
            Wait-AdapterUp
            Assert-Bound
        }
    } finally {
        Stop-BackgroundIperf $iperf
    }
    Wait-Peer
    $rate = Invoke-Iperf -Peer $PeerV4 -Seconds 5 -Tag 'adapter-loop-after'
    "$AdapterIterations loops, still bound; traffic after: $rate"
} | Out-Null

# tcctl configuration storm during traffic.
Invoke-Step "tcctl storm ${StormSeconds}s under traffic" {
    $iperf = Start-BackgroundIperf $PeerV4 ($StormSeconds + 10) 'storm-iperf'
    $n = 0
    $rand = New-Object System.Random 7
    try {
        $deadline = (Get-Date).AddSeconds($StormSeconds)
        while ((Get-Date) -lt $deadline) {
            $name = "qoslwf-hlk-storm-$($n % 8)"
            $dscp = $rand.Next(0, 64)
            $rate = "$($rand.Next(1, 1000))mbit"
            Invoke-Tcctl @('policy', 'add', '-i', $Adapter, $name, '-p', 'tcp', '--dport', "$Port",
                '--dscp', "$dscp", '--throttle', $rate) | Out-Null
            Invoke-Tcctl @('stats', '-i', $Adapter) | Out-Null
            Invoke-Tcctl @('policy', 'del', '-i', $Adapter, $name) | Out-Null
            $n++
        }
    } finally {
        Stop-BackgroundIperf $iperf
    }
    $left = Invoke-Tcctl @('policy', 'list', '-i', $Adapter)
    if ($left -match 'qoslwf-hlk-storm') { throw "storm policies left behind:`n$left" }
    $after = Invoke-Iperf -Peer $PeerV4 -Seconds 5 -Tag 'storm-after'
    "$n add/stats/del rounds; none left; traffic after: $after"
} | Out-Null

Invoke-Step 'pool usage back to its start' {
    Start-Sleep -Seconds 5      # let deferred frees (timers, send completions) run
    $now = Get-PoolUsage
    $grew = $now.NonPagedBytes - $poolStart.NonPagedBytes
    if ($now.PagedBytes -gt $poolStart.PagedBytes -or $grew -gt $PoolSlackBytes) {
        throw "tag ${Script:PoolTag}: start $(Format-Pool $poolStart); now $(Format-Pool $now)"
    }
    "tag ${Script:PoolTag}: $(Format-Pool $now) (start: $(Format-Pool $poolStart))"
} | Out-Null

if (-not $SkipVerifier) {
    Invoke-Step 'verifier /query' {
        $q = (Invoke-NativeRaw 'verifier.exe' @('/query')).Output
        $q | Set-Content (Join-Path $ResultsDir 'verifier-query.txt')
        if ($q -notmatch '(?i)qoslwf\.sys') { throw 'verifier /query does not list qoslwf.sys' }
        'qoslwf.sys verified, no violation (a violation would have bugchecked); counters in verifier-query.txt'
    } | Out-Null
}

if (-not $KeepInstalled) {
    Invoke-Step 'uninstall' {
        & "$PSScriptRoot\uninstall.ps1" -Quiet | Out-Null
        Start-Sleep -Seconds 2
        $p = Get-PoolUsage
        if ($p.NonPagedAllocations -ne 0 -or $p.PagedAllocations -ne 0) {
            throw "tag $Script:PoolTag holds memory after unload: $(Format-Pool $p)"
        }
        'removed; pool tag empty'
    } | Out-Null
}

exit (Write-Summary)
