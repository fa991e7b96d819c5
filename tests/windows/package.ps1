<#
.SYNOPSIS
  Builds qoslwf.sys with the WDK and lays out a test-signed driver package
  (`cargo make package`).

.DESCRIPTION
  Needs a Windows x64 host with: Rust (rustup, target x86_64-pc-windows-msvc),
  the Visual Studio build tools (link.exe), the Windows Driver Kit (stampinf,
  inf2cat, signtool, infverif) and LLVM (libclang, for wdk-sys's bindgen; set
  LIBCLANG_PATH if it is not found). See docs/windows.md.

  1. cargo build of the `qoslwf` bin with the `wdk` feature (wdk-build finds
     the WDK; wdk-panic / wdk-alloc / wdk-sys supply the kernel runtime), with
     the static CRT that wdk-build requires.
  2. <target>\x86_64-pc-windows-msvc\release\qoslwf_package\ gets qoslwf.sys
     (+ .pdb, .map) and inf\qoslwf.inf stamped by stampinf (DriverVer, arch).
  3. infverif checks the INF (warnings are printed; -StrictInf fails on them).
  4. A code-signing test certificate "CN=qoslwf Test Signing" is created in
     Cert:\CurrentUser\My (or reused) and exported as qoslwf-test.cer.
  5. signtool signs qoslwf.sys, inf2cat makes qoslwf.cat (10_X64), signtool
     signs the catalog.

.PARAMETER NoBuild
  Package an existing build (e.g. one made by `cargo make sys`) instead of
  building with the WDK.

.PARAMETER StrictInf
  Fail when infverif reports anything.
#>
param(
    [switch] $NoBuild,
    [switch] $StrictInf
)
. "$PSScriptRoot\common.ps1"

Set-Location $Script:RepoRoot
$release = Join-Path (Get-TargetDir) "$Script:Triple\release"
$package = Get-PackageDir

# 1. Build.
if (-not $NoBuild) {
    # wdk-build refuses a dynamic CRT; target-scoped so build scripts and
    # proc macros are unaffected.
    $env:CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_RUSTFLAGS = '-C target-feature=+crt-static'
    Invoke-Native cargo @('build', '-p', 'qoslwf', '--bin', 'qoslwf', '--features', 'wdk',
        '--release', '--locked', '--target', $Script:Triple) | Out-Host
}
$exe = Join-Path $release 'qoslwf.exe'
if (-not (Test-Path $exe)) { throw "$exe not found: the build did not produce the image" }

# 2. Lay out the package.
if (Test-Path $package) { Remove-Item -Recurse -Force $package }
New-Item -ItemType Directory -Path $package | Out-Null
Copy-Item $exe (Join-Path $package $Script:DriverFile)
foreach ($extra in 'qoslwf.pdb', 'deps\qoslwf.map') {
    $p = Join-Path $release $extra
    if (Test-Path $p) { Copy-Item $p $package }
}
$inf = Join-Path $package $Script:InfFile
Copy-Item (Join-Path $Script:RepoRoot "inf\$Script:InfFile") $inf

$stampinf = Find-KitTool 'stampinf'
# -d * = today, -v * = a version from the current time, -a amd64 = the
# NTamd64 decoration's architecture, -c = CatalogFile.
Invoke-Native $stampinf @('-f', $inf, '-d', '*', '-a', 'amd64', '-c', 'qoslwf.cat', '-v', '*') | Out-Host

# 3. INF check.
$infverif = Find-KitTool 'infverif'
$check = Invoke-NativeRaw $infverif @('/v', '/w', $inf)
$check.Output | Out-Host
if ($check.Code -ne 0) {
    if ($StrictInf) { throw "infverif /w reported errors for $inf" }
    Write-Warning "infverif /w reported problems (exit $($check.Code)); see above"
}

# 4. Test certificate.
$cert = Get-ChildItem Cert:\CurrentUser\My -CodeSigningCert |
    Where-Object { $_.Subject -eq $Script:CertSubject -and $_.NotAfter -gt (Get-Date).AddDays(7) } |
    Select-Object -First 1
if (-not $cert) {
    Write-Host "Creating the test certificate $Script:CertSubject"
    $cert = New-SelfSignedCertificate -Type CodeSigningCert -Subject $Script:CertSubject `
        -CertStoreLocation Cert:\CurrentUser\My -KeyAlgorithm RSA -KeyLength 3072 `
        -HashAlgorithm SHA256 -NotAfter (Get-Date).AddYears(2)
}
Export-Certificate -Cert $cert -FilePath (Join-Path $package $Script:CertFile) -Type CERT | Out-Null

# 5. Sign the image, catalog the package, sign the catalog.
$signtool = Find-KitTool 'signtool'
$sign = @('sign', '/v', '/fd', 'SHA256', '/s', 'My', '/sha1', $cert.Thumbprint)
Invoke-Native $signtool ($sign + (Join-Path $package $Script:DriverFile)) | Out-Host
$inf2cat = Find-KitTool 'inf2cat'
Invoke-Native $inf2cat @("/driver:$package", '/os:10_X64', '/uselocaltime') | Out-Host
Invoke-Native $signtool ($sign + (Join-Path $package 'qoslwf.cat')) | Out-Host

Write-Host "Driver package: $package"
Get-ChildItem $package | Format-Table -Property @('Name', 'Length') -AutoSize | Out-Host
