# Hallpass device credential: DPAPI protect / unprotect, machine scope, for Windows PowerShell 5.1.
# Standard input carries two lines: the operation ("protect" or "unprotect") and the data as
# base64, so no secret ever appears on a command line. Prints ONE compressed JSON object:
# {"data": "<base64>"} on success, {"error": "..."} (exit code 1) on failure.
# ProtectedData lives in System.Security.dll, which PowerShell 5.1 does not load by default.
# LocalMachine scope: any process on this machine may unprotect the blob, so the file's ACL
# (SYSTEM and Administrators only) is what keeps it from users; the entropy only ties the blob
# to Hallpass (MS Learn, "DataProtectionScope Enum" and "ProtectedData.Protect").
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

$result = [ordered]@{
    data  = $null
    error = $null
}

try {
    Add-Type -AssemblyName System.Security
    $operation = [Console]::In.ReadLine().Trim()
    $payload = [Convert]::FromBase64String([Console]::In.ReadToEnd().Trim())
    $entropy = [System.Text.Encoding]::UTF8.GetBytes('hallpass-device-credential-v1')
    $scope = [System.Security.Cryptography.DataProtectionScope]::LocalMachine
    if ($operation -eq 'protect') {
        $output = [System.Security.Cryptography.ProtectedData]::Protect($payload, $entropy, $scope)
    }
    elseif ($operation -eq 'unprotect') {
        $output = [System.Security.Cryptography.ProtectedData]::Unprotect($payload, $entropy, $scope)
    }
    else {
        throw "unknown operation: $operation"
    }
    $result.data = [Convert]::ToBase64String($output)
}
catch {
    $result.error = [string]$_.Exception.Message
}

ConvertTo-Json -InputObject $result -Depth 3 -Compress
if ($null -ne $result.error) {
    exit 1
}
