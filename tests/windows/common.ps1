# Shared by the qoslwf Windows scripts (dot-source it: . "$PSScriptRoot\common.ps1").
# Windows PowerShell 5.1 compatible (no ternary, no ??, no &&).

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

# Names that must agree with inf/qoslwf.inf and driver/lwf/src/ids.rs.
$Script:ComponentId = 'qoslwf_filter'      # the INF model's component id (netcfg -i / -u)
$Script:ServiceName = 'qoslwf'             # AddService / ids::SERVICE_NAME
$Script:DriverFile  = 'qoslwf.sys'
$Script:InfFile     = 'qoslwf.inf'
$Script:CertSubject = 'CN=qoslwf Test Signing'
$Script:CertFile    = 'qoslwf-test.cer'
$Script:Triple      = 'x86_64-pc-windows-msvc'
$Script:RepoRoot    = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path

# NETCFG_S_REBOOT (0x0004A020): done, but a reboot finishes it.
$Script:NetcfgReboot = 0x0004A020

function Get-TargetDir {
    if ($env:CARGO_TARGET_DIR) { return $env:CARGO_TARGET_DIR }
    return (Join-Path $Script:RepoRoot 'target')
}

# The folder `cargo make package` lays out (qoslwf.sys, .inf, .cat, .cer, .pdb, .map).
function Get-PackageDir {
    return (Join-Path (Get-TargetDir) "$Script:Triple\release\qoslwf_package")
}

function Assert-Admin {
    $id = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($id)
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'Run this from an elevated (Administrator) PowerShell.'
    }
}

# Runs a native program and returns @{ Code; Output } (stdout and stderr).
# Windows PowerShell 5.1 turns a native program's stderr into errors that
# 'Stop' would make fatal, so the preference is relaxed for the call only.
function Invoke-NativeRaw {
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @()
    )
    Write-Host "> $FilePath $($ArgumentList -join ' ')"
    $ErrorActionPreference = 'Continue'
    $output = & $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" } | Out-String
    return [pscustomobject]@{ Code = $LASTEXITCODE; Output = $output }
}

# Runs a native program; throws unless its exit code is in $Ok. Returns its output.
function Invoke-Native {
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [int[]] $Ok = @(0)
    )
    $r = Invoke-NativeRaw -FilePath $FilePath -ArgumentList $ArgumentList
    if ($Ok -notcontains $r.Code) {
        throw ("{0} exited with {1} (0x{1:X8}):`n{2}" -f $FilePath, $r.Code, $r.Output)
    }
    return $r.Output
}

# True when the running boot entry has test signing on (bcdedit's element
# names are not localized).
function Test-TestSigning {
    $r = Invoke-NativeRaw -FilePath 'bcdedit.exe' -ArgumentList @('/enum', '{current}')
    if ($r.Code -ne 0) { throw "bcdedit /enum {current} failed: $($r.Output)" }
    $line = ($r.Output -split "`r?`n") | Where-Object { $_ -match '^\s*testsigning\s' } | Select-Object -First 1
    if (-not $line) { return $false }
    return ($line -match '\sYes\s*$')
}

# Finds a WDK / SDK tool (stampinf, inf2cat, signtool, infverif): PATH first,
# then the newest Windows Kits 10 bin\<version>\x64 (or x86) and Tools folders.
function Find-KitTool {
    param([Parameter(Mandatory)] [string] $Name)
    $cmd = Get-Command "$Name.exe" -ErrorAction SilentlyContinue
    if ($cmd) { return $cmd.Source }
    $roots = @()
    $reg = Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows Kits\Installed Roots' -ErrorAction SilentlyContinue
    if ($reg -and ($reg.PSObject.Properties.Name -contains 'KitsRoot10')) { $roots += $reg.KitsRoot10 }
    $roots += (Join-Path ${env:ProgramFiles(x86)} 'Windows Kits\10')
    foreach ($root in ($roots | Select-Object -Unique)) {
        foreach ($sub in 'bin', 'Tools') {
            $dir = Join-Path $root $sub
            if (-not (Test-Path $dir)) { continue }
            $hit = Get-ChildItem -Path $dir -Recurse -Filter "$Name.exe" -ErrorAction SilentlyContinue |
                Where-Object { $_.DirectoryName -match '\\(x64|x86)$' } |
                Sort-Object @{ Expression = { $_.DirectoryName -match '\\x64$' }; Descending = $true },
                            @{ Expression = { $_.FullName }; Descending = $true } |
                Select-Object -First 1
            if ($hit) { return $hit.FullName }
        }
    }
    throw "$Name.exe not found: install the Windows Driver Kit (docs/windows.md) or put it on PATH."
}

function Get-QosLwfService {
    return Get-CimInstance -ClassName Win32_SystemDriver -Filter "Name='$Script:ServiceName'" -ErrorAction SilentlyContinue
}

# Adapters the filter is bound to (Get-NetAdapterBinding by component id).
function Get-QosLwfBinding {
    return @(Get-NetAdapterBinding -ComponentID $Script:ComponentId -ErrorAction SilentlyContinue)
}
