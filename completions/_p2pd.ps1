
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'p2pd' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'p2pd'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'p2pd' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the server: data dir, database, server ID and shared key')
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Show the key fingerprint or regenerate the shared key')
            [CompletionResult]::new('settings', 'settings', [CompletionResultType]::ParameterValue, 'Show or change server settings')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the server ID, key fingerprint, settings and counts')
            [CompletionResult]::new('topology', 'topology', [CompletionResultType]::ParameterValue, 'Offices and their IP ranges: import, export, show, locate')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a real local distribution: server, 3 offices, 12 agents on loopback')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the server: control plane and central seed')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'Run the peer client on a device, or install it (`agent install`)')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Per office and content: bytes from LAN, parent office, server and CDN; WAN copies')
            [CompletionResult]::new('publish', 'publish', [CompletionResultType]::ParameterValue, 'Publish packages from file storage: hash, cut in pieces, target groups')
            [CompletionResult]::new('content', 'content', [CompletionResultType]::ParameterValue, 'Show published content')
            [CompletionResult]::new('groups', 'groups', [CompletionResultType]::ParameterValue, 'Assign the groups whose devices receive content through peer distribution')
            [CompletionResult]::new('licenses', 'licenses', [CompletionResultType]::ParameterValue, 'The Activated Licenses report: devices holding a license')
            [CompletionResult]::new('health', 'health', [CompletionResultType]::ParameterValue, 'Check the whole system: database, server, key, versions, storage, topology, clock')
            [CompletionResult]::new('devices', 'devices', [CompletionResultType]::ParameterValue, 'Enrolled devices: office, group, version, score, state')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write man pages and shell completions (for packagers)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;install' {
            [CompletionResult]::new('--server-name', '--server-name', [CompletionResultType]::ParameterName, 'Server name or IP address the agents will connect to')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'TCP port of the server')
            [CompletionResult]::new('--file-storage', '--file-storage', [CompletionResultType]::ParameterName, 'Package storage: an absolute directory or an http(s) base URL')
            [CompletionResult]::new('--cdn-url', '--cdn-url', [CompletionResultType]::ParameterName, 'CDN base URL, the last-resort download source')
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'With --systemd: write the unit below DIR (DIR/etc/systemd/system) instead of /')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--regenerate-key', '--regenerate-key', [CompletionResultType]::ParameterName, 'On an existing install: make a new shared key and keep everything else')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the result as JSON (server_id, key, key_fingerprint, data_dir)')
            [CompletionResult]::new('--systemd', '--systemd', [CompletionResultType]::ParameterName, 'Also write the p2pd.service systemd unit that serves this data dir. On an existing install, only the unit is written (safe to re-run)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With --systemd: overwrite a unit file that differs from what would be written')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;key' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('fingerprint', 'fingerprint', [CompletionResultType]::ParameterValue, 'Show the current key''s fingerprint and version (never the key)')
            [CompletionResult]::new('regenerate', 'regenerate', [CompletionResultType]::ParameterValue, 'Make a new shared key; the old one stops working everywhere')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;key;fingerprint' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;key;regenerate' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;key;help' {
            [CompletionResult]::new('fingerprint', 'fingerprint', [CompletionResultType]::ParameterValue, 'Show the current key''s fingerprint and version (never the key)')
            [CompletionResult]::new('regenerate', 'regenerate', [CompletionResultType]::ParameterValue, 'Make a new shared key; the old one stops working everywhere')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;key;help;fingerprint' {
            break
        }
        'p2pd;key;help;regenerate' {
            break
        }
        'p2pd;key;help;help' {
            break
        }
        'p2pd;settings' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every setting with its value')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change one setting (validated; an unknown name lists the valid ones)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;settings;show' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;settings;set' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;settings;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every setting with its value')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change one setting (validated; an unknown name lists the valid ones)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;settings;help;show' {
            break
        }
        'p2pd;settings;help;set' {
            break
        }
        'p2pd;settings;help;help' {
            break
        }
        'p2pd;status' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;topology' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import the network topology from a CSV or .xlsx file')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the topology as recorded, in the import format')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Draw the office tree with types, ranges, WAN caps and device counts')
            [CompletionResult]::new('locate', 'locate', [CompletionResultType]::ParameterValue, 'Show which office each address belongs to, or why it has none')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;topology;import' {
            [CompletionResult]::new('--sheet', '--sheet', [CompletionResultType]::ParameterName, 'Sheet of an .xlsx workbook (default: the first)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate and print what would change, without writing anything')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;topology;export' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to FILE instead of stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to FILE instead of stdout')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;topology;show' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;topology;locate' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;topology;help' {
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import the network topology from a CSV or .xlsx file')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the topology as recorded, in the import format')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Draw the office tree with types, ranges, WAN caps and device counts')
            [CompletionResult]::new('locate', 'locate', [CompletionResultType]::ParameterValue, 'Show which office each address belongs to, or why it has none')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;topology;help;import' {
            break
        }
        'p2pd;topology;help;export' {
            break
        }
        'p2pd;topology;help;show' {
            break
        }
        'p2pd;topology;help;locate' {
            break
        }
        'p2pd;topology;help;help' {
            break
        }
        'p2pd;demo' {
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Package size, in MiB')
            [CompletionResult]::new('--devices', '--devices', [CompletionResultType]::ParameterName, 'Devices per office')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this many seconds')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the temporary directory (for inspection) instead of deleting it')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the final report as JSON')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on (default: the server_name setting and port)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;agent' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Server URL, e.g. http://10.0.0.5:7650')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'File holding the shared key (base64, as printed by install)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The device''s group (must be assigned to peer distribution)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address the peer server listens on')
            [CompletionResult]::new('--advertise', '--advertise', [CompletionResultType]::ParameterName, 'Address other devices reach this one at; also the source address of its connections (default: --listen)')
            [CompletionResult]::new('--prefix-len', '--prefix-len', [CompletionResultType]::ParameterName, 'Prefix length of the device''s subnet (default /24, /64 for IPv6)')
            [CompletionResult]::new('--on-complete', '--on-complete', [CompletionResultType]::ParameterName, 'Command to run with the delivered file''s path as its argument')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Pieces in flight per content')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept')
            [CompletionResult]::new('service', 'service', [CompletionResultType]::ParameterValue, 'What the Windows service runs: the agent from the configuration `agent install` wrote, under the service control manager')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;agent;install' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Server URL, e.g. http://10.0.0.5:7650')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'File holding the shared key (base64, as printed by install); copied to /etc/p2pd/agent.key (on Windows: agent.key in the data dir)')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The device''s group (must be assigned to peer distribution)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address the agent''s peer server listens on')
            [CompletionResult]::new('--advertise', '--advertise', [CompletionResultType]::ParameterName, 'Address other devices reach this one at (default: the address this host uses to reach the server, with the --listen port)')
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'Write below DIR instead of / (DIR/etc/p2pd, DIR/etc/systemd/system; systemd only)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite files (and the Windows service''s registration) that differ from what would be written')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;agent;uninstall' {
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'Remove below DIR instead of / (as given to `agent install --root`; systemd only)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;agent;service' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The configuration `agent install` wrote (service.json in the data dir)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--console', '--console', [CompletionResultType]::ParameterName, 'Run in this console instead of under the service control manager, to see why the service does not start')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;agent;help' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept')
            [CompletionResult]::new('service', 'service', [CompletionResultType]::ParameterValue, 'What the Windows service runs: the agent from the configuration `agent install` wrote, under the service control manager')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;agent;help;install' {
            break
        }
        'p2pd;agent;help;uninstall' {
            break
        }
        'p2pd;agent;help;service' {
            break
        }
        'p2pd;agent;help;help' {
            break
        }
        'p2pd;report' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;publish' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Package name, instead of the one taken from the path (one package only)')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Package version, instead of the one taken from the path (one package only)')
            [CompletionResult]::new('--groups', '--groups', [CompletionResultType]::ParameterName, 'Target only these assigned groups (comma-separated) instead of all assigned groups')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Publish every package in file storage')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Hash packages whose size and mtime are unchanged too, and republish any whose bytes changed')
            [CompletionResult]::new('--prune', '--prune', [CompletionResultType]::ParameterName, 'Withdraw packages no longer in storage and superseded versions')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'p2pd;content' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List published content: name, version, size, pieces, targets, time')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one content, with its piece hashes in --json')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;content;list' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;content;show' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;content;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List published content: name, version, size, pieces, targets, time')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one content, with its piece hashes in --json')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;content;help;list' {
            break
        }
        'p2pd;content;help;show' {
            break
        }
        'p2pd;content;help;help' {
            break
        }
        'p2pd;groups' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups')
            [CompletionResult]::new('unassign', 'unassign', [CompletionResultType]::ParameterValue, 'Unassign groups: their content targets go, their devices'' licenses are released')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List assigned groups with their devices, licenses and contents')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;groups;assign' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;groups;unassign' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;groups;list' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;groups;help' {
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups')
            [CompletionResult]::new('unassign', 'unassign', [CompletionResultType]::ParameterValue, 'Unassign groups: their content targets go, their devices'' licenses are released')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List assigned groups with their devices, licenses and contents')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;groups;help;assign' {
            break
        }
        'p2pd;groups;help;unassign' {
            break
        }
        'p2pd;groups;help;list' {
            break
        }
        'p2pd;groups;help;help' {
            break
        }
        'p2pd;licenses' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the report to FILE instead of standard output')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the report to FILE instead of standard output')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;health' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Server URL to check (default: http://SERVER_NAME:PORT from the settings)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s answer')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('--deep', '--deep', [CompletionResultType]::ParameterName, 'Also re-hash every published package in file storage against its content ID (reads every byte; slow on large libraries)')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (such as no-office clients) as failures')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;devices' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List devices: office, group, version, last seen, preferred-device score and state (online, offline, banned)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;devices;list' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the list to FILE instead of standard output')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the list to FILE instead of standard output')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;devices;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List devices: office, group, version, last seen, preferred-device score and state (online, offline, banned)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;devices;help;list' {
            break
        }
        'p2pd;devices;help;help' {
            break
        }
        'p2pd;generate' {
            [CompletionResult]::new('--out-dir', '--out-dir', [CompletionResultType]::ParameterName, 'Where to write man/ and completions/')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'p2pd;help' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the server: data dir, database, server ID and shared key')
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Show the key fingerprint or regenerate the shared key')
            [CompletionResult]::new('settings', 'settings', [CompletionResultType]::ParameterValue, 'Show or change server settings')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the server ID, key fingerprint, settings and counts')
            [CompletionResult]::new('topology', 'topology', [CompletionResultType]::ParameterValue, 'Offices and their IP ranges: import, export, show, locate')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a real local distribution: server, 3 offices, 12 agents on loopback')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the server: control plane and central seed')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'Run the peer client on a device, or install it (`agent install`)')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Per office and content: bytes from LAN, parent office, server and CDN; WAN copies')
            [CompletionResult]::new('publish', 'publish', [CompletionResultType]::ParameterValue, 'Publish packages from file storage: hash, cut in pieces, target groups')
            [CompletionResult]::new('content', 'content', [CompletionResultType]::ParameterValue, 'Show published content')
            [CompletionResult]::new('groups', 'groups', [CompletionResultType]::ParameterValue, 'Assign the groups whose devices receive content through peer distribution')
            [CompletionResult]::new('licenses', 'licenses', [CompletionResultType]::ParameterValue, 'The Activated Licenses report: devices holding a license')
            [CompletionResult]::new('health', 'health', [CompletionResultType]::ParameterValue, 'Check the whole system: database, server, key, versions, storage, topology, clock')
            [CompletionResult]::new('devices', 'devices', [CompletionResultType]::ParameterValue, 'Enrolled devices: office, group, version, score, state')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write man pages and shell completions (for packagers)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'p2pd;help;install' {
            break
        }
        'p2pd;help;key' {
            [CompletionResult]::new('fingerprint', 'fingerprint', [CompletionResultType]::ParameterValue, 'Show the current key''s fingerprint and version (never the key)')
            [CompletionResult]::new('regenerate', 'regenerate', [CompletionResultType]::ParameterValue, 'Make a new shared key; the old one stops working everywhere')
            break
        }
        'p2pd;help;key;fingerprint' {
            break
        }
        'p2pd;help;key;regenerate' {
            break
        }
        'p2pd;help;settings' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every setting with its value')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change one setting (validated; an unknown name lists the valid ones)')
            break
        }
        'p2pd;help;settings;show' {
            break
        }
        'p2pd;help;settings;set' {
            break
        }
        'p2pd;help;status' {
            break
        }
        'p2pd;help;topology' {
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import the network topology from a CSV or .xlsx file')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the topology as recorded, in the import format')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Draw the office tree with types, ranges, WAN caps and device counts')
            [CompletionResult]::new('locate', 'locate', [CompletionResultType]::ParameterValue, 'Show which office each address belongs to, or why it has none')
            break
        }
        'p2pd;help;topology;import' {
            break
        }
        'p2pd;help;topology;export' {
            break
        }
        'p2pd;help;topology;show' {
            break
        }
        'p2pd;help;topology;locate' {
            break
        }
        'p2pd;help;demo' {
            break
        }
        'p2pd;help;serve' {
            break
        }
        'p2pd;help;agent' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept')
            [CompletionResult]::new('service', 'service', [CompletionResultType]::ParameterValue, 'What the Windows service runs: the agent from the configuration `agent install` wrote, under the service control manager')
            break
        }
        'p2pd;help;agent;install' {
            break
        }
        'p2pd;help;agent;uninstall' {
            break
        }
        'p2pd;help;agent;service' {
            break
        }
        'p2pd;help;report' {
            break
        }
        'p2pd;help;publish' {
            break
        }
        'p2pd;help;content' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List published content: name, version, size, pieces, targets, time')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one content, with its piece hashes in --json')
            break
        }
        'p2pd;help;content;list' {
            break
        }
        'p2pd;help;content;show' {
            break
        }
        'p2pd;help;groups' {
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups')
            [CompletionResult]::new('unassign', 'unassign', [CompletionResultType]::ParameterValue, 'Unassign groups: their content targets go, their devices'' licenses are released')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List assigned groups with their devices, licenses and contents')
            break
        }
        'p2pd;help;groups;assign' {
            break
        }
        'p2pd;help;groups;unassign' {
            break
        }
        'p2pd;help;groups;list' {
            break
        }
        'p2pd;help;licenses' {
            break
        }
        'p2pd;help;health' {
            break
        }
        'p2pd;help;devices' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List devices: office, group, version, last seen, preferred-device score and state (online, offline, banned)')
            break
        }
        'p2pd;help;devices;list' {
            break
        }
        'p2pd;help;generate' {
            break
        }
        'p2pd;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
