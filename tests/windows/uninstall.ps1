<#
.SYNOPSIS
  Removes the qoslwf filter (`cargo make uninstall`).

.DESCRIPTION
  Run elevated.
  1. netcfg -v -u qoslwf_filter (unbinds it from every adapter and stops the
     service; NETCFG_S_REBOOT means a reboot completes it).
  2. Deletes the driver package from the driver store (pnputil
     /delete-driver oemNN.inf for every published INF whose original name is
     qoslwf.inf), unless -KeepDriverStore.
  3. Checks that no binding and no running service are left.
  The test certificate stays trusted (remove it with certlm.msc if wanted).
#>
param(
    [switch] $KeepDriverStore,
    [switch] $Quiet
)
. "$PSScriptRoot\common.ps1"
Assert-Admin

$r = Invoke-NativeRaw 'netcfg.exe' @('-v', '-u', $Script:ComponentId)
if (-not $Quiet) { $r.Output | Out-Host }
# 0 = removed; NETCFG_S_REBOOT = removed after a reboot. netcfg reports a
# component that is not installed with an error code; it is not one then.
$installedBefore = $r.Output -notmatch '(not installed|0x80040154|NETCFG_E_NO_SUCH)'
if ($r.Code -ne 0 -and $r.Code -ne $Script:NetcfgReboot -and $installedBefore) {
    throw ("netcfg -u {0} failed with 0x{1:X8}:`n{2}" -f $Script:ComponentId, $r.Code, $r.Output)
}

if (-not $KeepDriverStore) {
    # Published names of this package in the driver store (oemNN.inf).
    $published = @(Get-WindowsDriver -Online -All -ErrorAction SilentlyContinue |
        Where-Object { $_.OriginalFileName -and ((Split-Path $_.OriginalFileName -Leaf) -ieq $Script:InfFile) } |
        ForEach-Object { $_.Driver })
    foreach ($oem in $published) {
        $d = Invoke-NativeRaw 'pnputil.exe' @('/delete-driver', $oem)
        if ($d.Code -ne 0 -and -not $Quiet) { Write-Warning "pnputil /delete-driver $oem exited $($d.Code): $($d.Output)" }
    }
}

$bindings = Get-QosLwfBinding
if ($bindings.Count -ne 0) { throw "$($bindings.Count) adapter binding(s) of $Script:ComponentId are left after uninstall" }
$service = Get-QosLwfService
if ($service -and $service.State -eq 'Running') {
    if ($r.Code -eq $Script:NetcfgReboot) {
        Write-Warning 'the service stops at the next reboot (netcfg asked for one)'
    } else {
        throw "the $Script:ServiceName service still runs after uninstall"
    }
}
if (-not $Quiet) { Write-Host 'qoslwf uninstalled' }
