<#
.SYNOPSIS
  Installs the qoslwf filter on a Windows test machine (`cargo make install`).

.DESCRIPTION
  Run elevated, on a machine with test signing on:
      bcdedit /set testsigning on      (then reboot; Secure Boot must be off)
  1. Trusts the package's test certificate: imports qoslwf-test.cer into
     Cert:\LocalMachine\Root and Cert:\LocalMachine\TrustedPublisher.
  2. netcfg -v -l <package>\qoslwf.inf -c s -i qoslwf_filter
     (class s = NetService; NETCFG_S_REBOOT means a reboot completes it).
  3. Checks that the qoslwf service runs and the filter is bound
     (Get-NetAdapterBinding -ComponentID qoslwf_filter).

.PARAMETER PackageDir
  The driver package folder (default: the one `cargo make package` makes).

.PARAMETER Quiet
  Less output (used by the install/uninstall loop of hlk.ps1).
#>
param(
    [string] $PackageDir = '',
    [switch] $Quiet
)
. "$PSScriptRoot\common.ps1"
Assert-Admin
if (-not $PackageDir) { $PackageDir = Get-PackageDir }
$inf = Join-Path $PackageDir $Script:InfFile
$cer = Join-Path $PackageDir $Script:CertFile
foreach ($f in $inf, $cer, (Join-Path $PackageDir 'qoslwf.cat'), (Join-Path $PackageDir $Script:DriverFile)) {
    if (-not (Test-Path $f)) { throw "$f is missing: run ``cargo make package`` first (and copy the folder here)" }
}

if (-not (Test-TestSigning)) {
    throw ('Test signing is off on this boot entry. Run "bcdedit /set testsigning on", ' +
        'turn Secure Boot off in the firmware if it is on, and reboot.')
}

# Trust the test certificate for kernel code signing (root) and for
# installing without a prompt (trusted publisher).
$certificate = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2($cer)
foreach ($store in 'Root', 'TrustedPublisher') {
    $have = Get-ChildItem "Cert:\LocalMachine\$store" | Where-Object { $_.Thumbprint -eq $certificate.Thumbprint }
    if (-not $have) {
        Import-Certificate -FilePath $cer -CertStoreLocation "Cert:\LocalMachine\$store" | Out-Null
        if (-not $Quiet) { Write-Host "Imported the test certificate into LocalMachine\$store" }
    }
}

$out = Invoke-Native 'netcfg.exe' @('-v', '-l', $inf, '-c', 's', '-i', $Script:ComponentId) -Ok @(0, $Script:NetcfgReboot)
if (-not $Quiet) { $out | Out-Host }
if ($out -match '0x0004a020' -or $LASTEXITCODE -eq $Script:NetcfgReboot) {
    Write-Warning 'netcfg asks for a reboot to finish the installation.'
}

# The service should be running and the filter bound somewhere.
$deadline = (Get-Date).AddSeconds(30)
do {
    $service = Get-QosLwfService
    if ($service -and $service.State -eq 'Running') { break }
    Start-Sleep -Milliseconds 500
} while ((Get-Date) -lt $deadline)
if (-not $service -or $service.State -ne 'Running') {
    $state = 'absent'
    if ($service) { $state = $service.State }
    throw "the $Script:ServiceName service is not running after install (state: $state)"
}
$bindings = Get-QosLwfBinding
if ($bindings.Count -eq 0) { throw "no adapter has the $Script:ComponentId binding after install" }
if (-not $Quiet) {
    $bindings | Format-Table -Property @('Name', 'DisplayName', 'ComponentID', 'Enabled') -AutoSize | Out-Host
    Write-Host "qoslwf installed; try: tcctl interfaces"
}
