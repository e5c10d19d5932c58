
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
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the server: data dir, database, server ID and shared key')
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Show the key fingerprint or regenerate the shared key')
            [CompletionResult]::new('ca', 'ca', [CompletionResultType]::ParameterValue, 'The server CA: its fingerprint, certificates for a load balancer')
            [CompletionResult]::new('settings', 'settings', [CompletionResultType]::ParameterValue, 'Show or change server settings')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the server ID, key fingerprint, settings and counts')
            [CompletionResult]::new('topology', 'topology', [CompletionResultType]::ParameterValue, 'Offices and their IP ranges: import, export, show, locate')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a real local distribution: server, 3 offices, 12 agents on loopback')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the server: control plane and central seed')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'Run the peer client on a device, or install it (`agent install`)')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Per office and content: bytes from LAN, parent office, server and CDN; WAN copies')
            [CompletionResult]::new('publish', 'publish', [CompletionResultType]::ParameterValue, 'Publish packages from file storage: hash, cut in pieces, target groups')
            [CompletionResult]::new('content', 'content', [CompletionResultType]::ParameterValue, 'Show published content')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'Move the database: copy an install into an empty PostgreSQL database')
            [CompletionResult]::new('groups', 'groups', [CompletionResultType]::ParameterValue, 'Assign the groups whose devices receive content through peer distribution')
            [CompletionResult]::new('licenses', 'licenses', [CompletionResultType]::ParameterValue, 'The Activated Licenses report: devices holding a license')
            [CompletionResult]::new('health', 'health', [CompletionResultType]::ParameterValue, 'Check the whole system: database, server, key, versions, storage, topology, clock')
            [CompletionResult]::new('devices', 'devices', [CompletionResultType]::ParameterValue, 'Enrolled devices: office, group, version, score, state')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the shell completion script for bash, zsh, fish, powershell or elvish')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Why a device got a content the way it did: office, role, leader, tiers, bans, failovers')
            [CompletionResult]::new('ui', 'ui', [CompletionResultType]::ParameterValue, 'The read-only web dashboard: rotate its admin token')
            break
        }
        'p2pd;install' {
            [CompletionResult]::new('--server-name', '--server-name', [CompletionResultType]::ParameterName, 'Server name or IP address the agents will connect to')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'TCP port of the server')
            [CompletionResult]::new('--file-storage', '--file-storage', [CompletionResultType]::ParameterName, 'Package storage: an absolute directory (which must exist) or an http(s) base URL')
            [CompletionResult]::new('--cdn-url', '--cdn-url', [CompletionResultType]::ParameterName, 'CDN base URL, the last-resort download source')
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'With --systemd: write the unit below DIR (DIR/etc/systemd/system) instead of /')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--allow-missing-storage', '--allow-missing-storage', [CompletionResultType]::ParameterName, 'Accept a --file-storage directory that does not exist yet (storage mounted later)')
            [CompletionResult]::new('--regenerate-key', '--regenerate-key', [CompletionResultType]::ParameterName, 'On an existing install: make a new shared key and keep everything else')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the result as JSON (server_id, key, key_fingerprint, key_version, data_dir). On an existing install with the same settings: the same without the key, and "already_installed": true')
            [CompletionResult]::new('--systemd', '--systemd', [CompletionResultType]::ParameterName, 'Also write the p2pd.service systemd unit that serves this data dir, running a copy of this binary installed at /usr/local/bin/p2pd. On an existing install, only these two are written (safe to re-run)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With --systemd: overwrite a unit file that differs from what would be written')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;key' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('fingerprint', 'fingerprint', [CompletionResultType]::ParameterValue, 'Show the current key''s fingerprint and version (never the key)')
            [CompletionResult]::new('regenerate', 'regenerate', [CompletionResultType]::ParameterValue, 'Make a new shared key; the old one stops working everywhere')
            break
        }
        'p2pd;key;fingerprint' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;key;regenerate' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;ca' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('fingerprint', 'fingerprint', [CompletionResultType]::ParameterValue, 'Show the server CA''s SHA-256 fingerprint (agents'' --ca-fingerprint)')
            [CompletionResult]::new('issue-proxy', 'issue-proxy', [CompletionResultType]::ParameterValue, 'Issue a certificate and key from the CA for a TLS-terminating load balancer in front of serve: agents accept it because it is from the CA. Give serve the balancer''s address with --trusted-proxy')
            [CompletionResult]::new('regenerate', 'regenerate', [CompletionResultType]::ParameterValue, 'Replace the server CA with a new one (when its key may have leaked). Restart serve on every replica, then give agents the new ca.pem (or fingerprint): agents pinned to the old CA refuse the server until then')
            break
        }
        'p2pd;ca;fingerprint' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;ca;issue-proxy' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Host name or address agents dial (repeat for several)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Directory to write proxy.pem (certificate and the CA after it) and proxy.key (owner-only) into')
            [CompletionResult]::new('--days', '--days', [CompletionResultType]::ParameterName, 'Days the certificate is valid')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;ca;regenerate' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;settings' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every setting with its value')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change one setting (validated; an unknown name lists the valid ones)')
            break
        }
        'p2pd;settings;show' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;settings;set' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--allow-missing-storage', '--allow-missing-storage', [CompletionResultType]::ParameterName, 'Accept a file_storage directory that does not exist yet (for storage mounted later); without it, a missing directory is an error')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'p2pd;status' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;topology' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import the network topology from a CSV or .xlsx file')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the topology as recorded, in the import format')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Draw the office tree with types, ranges, WAN caps and device counts')
            [CompletionResult]::new('locate', 'locate', [CompletionResultType]::ParameterValue, 'Show which office each address belongs to, or why it has none')
            break
        }
        'p2pd;topology;import' {
            [CompletionResult]::new('--sheet', '--sheet', [CompletionResultType]::ParameterName, 'Sheet of an .xlsx workbook (default: the first)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate and print what would change, without writing anything')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'p2pd;topology;export' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to FILE instead of stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to FILE instead of stdout')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'csv, or xlsx for an Excel workbook (one sheet, "Topology") that imports back unchanged [default: xlsx when FILE ends in .xlsx, else csv]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--excel', '--excel', [CompletionResultType]::ParameterName, 'CSV as Excel in European locales writes and reads it: '';'' between fields, a UTF-8 BOM, CRLF line ends. Without --excel or --plain, export writes CSV as the last imported CSV file was written (its delimiter, BOM and line ends)')
            [CompletionResult]::new('--plain', '--plain', [CompletionResultType]::ParameterName, 'Plain CSV: '','' between fields, LF line ends, no BOM')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'p2pd;topology;show' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;topology;locate' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;demo' {
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Package size, in MiB')
            [CompletionResult]::new('--devices', '--devices', [CompletionResultType]::ParameterName, 'Devices per office')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this many seconds')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the temporary directory (for inspection) instead of deleting it')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the final report as JSON')
            [CompletionResult]::new('--stay', '--stay', [CompletionResultType]::ParameterName, 'After the report, keep serve and the agents running until Ctrl-C, so the dashboard (whose address the demo prints) stays open')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on (default: the server_name setting and port)')
            [CompletionResult]::new('--tls-name', '--tls-name', [CompletionResultType]::ParameterName, 'A host name or address agents use to reach this server, put in the server certificate (repeat for several). The listen address, the server_name setting and, on a wildcard listen, localhost and 127.0.0.1 are always in it')
            [CompletionResult]::new('--trusted-proxy', '--trusted-proxy', [CompletionResultType]::ParameterName, 'Address of a TLS-terminating load balancer in front of this server (repeat for several): its requests may forward the client''s device certificate in the X-P2PD-Client-Cert header, which is verified against the CA. Ignored from any other address')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--insecure-plain-http', '--insecure-plain-http', [CompletionResultType]::ParameterName, 'Serve plain HTTP: no TLS, no device certificates. For benchmarks only, with agents started with --insecure-plain-http')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;agent' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Server URL, e.g. https://10.0.0.5:7650. Several replicas of one server: repeat it or separate with commas; the agent spreads over them and moves to another when one fails')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'File holding the shared key (base64, as printed by install). `agent install` copies it to /etc/p2pd/agent.key (on Windows: agent.key in the data dir); re-run it with a new key file after `p2pd key regenerate`: the running agent picks the new key up')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The device''s group (must be assigned to peer distribution)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address the agent''s peer server listens on. The default, `[::]:7651`, is port 7651 on every address of every family the device has (IPv4 too; IPv4 alone on a host without IPv6), so it keeps listening when DHCP, Wi-Fi or a VPN change its addresses')
            [CompletionResult]::new('--advertise', '--advertise', [CompletionResultType]::ParameterName, 'A fixed address other devices reach this one at, for a device behind NAT or a port forward. Without it (the usual case) the server tells peers the address this device reaches it from now, on the --listen port, and follows it when it changes. Never the source address of the agent''s connections: the operating system picks that')
            [CompletionResult]::new('--source-address', '--source-address', [CompletionResultType]::ParameterName, 'Bind every outgoing connection to this source address. Only for tests and hosts that run several agents on one machine (each on its own loopback address): a real device changes addresses, and a fixed source stops working when it does')
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'The server CA''s certificate (the server''s DATA_DIR/ca.pem): the server and every peer must prove a certificate from it. `agent install` copies it next to the key')
            [CompletionResult]::new('--ca-fingerprint', '--ca-fingerprint', [CompletionResultType]::ParameterName, 'The server CA''s SHA-256 fingerprint, as `p2pd install` printed it: the agent learns the CA from the server at first contact, keeps it only if it has this fingerprint, and caches it in its data dir')
            [CompletionResult]::new('--prefix-len', '--prefix-len', [CompletionResultType]::ParameterName, 'Prefix length of the subnet of --advertise or --source-address (default /24, /64 for IPv6); interface addresses carry their own')
            [CompletionResult]::new('--on-complete', '--on-complete', [CompletionResultType]::ParameterName, 'Command to run after each delivery, with the delivered file''s path as its argument (and in P2PD_DELIVERED). Files are delivered to DATA_DIR/delivered/NAME/VERSION/FILE, one directory per package name and version, so packages never overwrite each other')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Pieces in flight per content')
            [CompletionResult]::new('--metrics-listen', '--metrics-listen', [CompletionResultType]::ParameterName, 'Serve this agent''s Prometheus metrics at http://ADDR/metrics (off by default; no credentials, so bind it to a loopback or management address)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The agent''s own data directory (piece store, delivered files, transfer log), never the server''s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--insecure-plain-http', '--insecure-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the server and peers: no TLS, no certificates. For benchmarks against `serve --insecure-plain-http` only')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept')
            break
        }
        'p2pd;agent;install' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Server URL, e.g. https://10.0.0.5:7650. Several replicas of one server: repeat it or separate with commas; the agent spreads over them and moves to another when one fails')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'File holding the shared key (base64, as printed by install). `agent install` copies it to /etc/p2pd/agent.key (on Windows: agent.key in the data dir); re-run it with a new key file after `p2pd key regenerate`: the running agent picks the new key up')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The device''s group (must be assigned to peer distribution)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address the agent''s peer server listens on. The default, `[::]:7651`, is port 7651 on every address of every family the device has (IPv4 too; IPv4 alone on a host without IPv6), so it keeps listening when DHCP, Wi-Fi or a VPN change its addresses')
            [CompletionResult]::new('--advertise', '--advertise', [CompletionResultType]::ParameterName, 'A fixed address other devices reach this one at, for a device behind NAT or a port forward. Without it (the usual case) the server tells peers the address this device reaches it from now, on the --listen port, and follows it when it changes. Never the source address of the agent''s connections: the operating system picks that')
            [CompletionResult]::new('--source-address', '--source-address', [CompletionResultType]::ParameterName, 'Bind every outgoing connection to this source address. Only for tests and hosts that run several agents on one machine (each on its own loopback address): a real device changes addresses, and a fixed source stops working when it does')
            [CompletionResult]::new('--ca-fingerprint', '--ca-fingerprint', [CompletionResultType]::ParameterName, 'The server CA''s SHA-256 fingerprint, as `p2pd install` printed it: the agent learns the CA from the server at first contact, keeps it only if it has this fingerprint, and caches it in its data dir')
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'Write below DIR instead of / (DIR/etc/p2pd, DIR/etc/systemd/system; systemd only)')
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'The server CA''s certificate (the server''s DATA_DIR/ca.pem): the server and every peer must prove a certificate from it. `agent install` copies it next to the key')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The agent''s own data directory (piece store, delivered files, transfer log), never the server''s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--insecure-plain-http', '--insecure-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the server and peers: no TLS, no certificates. For benchmarks against `serve --insecure-plain-http` only')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite files (and the Windows service''s registration) that differ from what would be written. Not needed for a new key (--key-file) or a new p2pd binary: those are replaced whenever they differ')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"files": [{"path", "outcome"}], "key_replaced", "next"} as JSON')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;agent;uninstall' {
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'Remove below DIR instead of / (as given to `agent install --root`; systemd only)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'The agent''s own data directory (piece store, delivered files, transfer log), never the server''s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;report' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'p2pd;publish' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Package name, instead of the one taken from the path (one package only)')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Package version, instead of the one taken from the path (one package only)')
            [CompletionResult]::new('--groups', '--groups', [CompletionResultType]::ParameterName, 'Target only these assigned groups (comma-separated) instead of all assigned groups')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
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
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List published content: name, version, size, pieces, targets, time')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one content, with its piece hashes in --json')
            break
        }
        'p2pd;content;list' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show full content ids (the table shows the first 12 hex digits)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;content;show' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;db' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy this install (offices, groups, content, devices, history, key, server CA) into an empty database, then compare every table''s row count. Stop `serve` first: writes made during the copy are not carried')
            break
        }
        'p2pd;db;copy' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The empty destination: postgres://USER@HOST[:PORT]/DB (the source is the data dir''s database, or --database)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;groups' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('assign', 'assign', [CompletionResultType]::ParameterValue, 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups')
            [CompletionResult]::new('unassign', 'unassign', [CompletionResultType]::ParameterValue, 'Unassign groups: their content targets go, their devices'' licenses are released')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List assigned groups with their devices, licenses and contents')
            break
        }
        'p2pd;groups;assign' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;groups;unassign' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;groups;list' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;licenses' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format (--json is the same as --format json)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the report to FILE instead of standard output')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the report to FILE instead of standard output')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON for scripts, like every other command''s --json')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show whole device ids in the table (by default the first 8 characters; CSV and JSON always have whole ids)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'p2pd;health' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Server URL to check (default: https://SERVER_NAME:PORT from the settings)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the server''s answer')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--deep', '--deep', [CompletionResultType]::ParameterName, 'Also re-hash every published package in file storage against its content ID (reads every byte; slow on large libraries)')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (such as no-office clients) as failures')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;devices' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List devices: office, group, version, last seen, preferred-device score, the admin''s preference and state (online, offline, banned, stuck, stale key)')
            [CompletionResult]::new('retire', 'retire', [CompletionResultType]::ParameterValue, 'Retire a device for good: release its license and forget it (its past transfers stay in `report`). Its id stays refused, even with a valid certificate and the key, until `devices readmit`')
            [CompletionResult]::new('prefer', 'prefer', [CompletionResultType]::ParameterValue, 'Make a device lead its office whenever it is online (ranked before every device that is not preferred)')
            [CompletionResult]::new('unprefer', 'unprefer', [CompletionResultType]::ParameterValue, 'Undo `prefer` or `exclude`: rank the device by its history alone')
            [CompletionResult]::new('exclude', 'exclude', [CompletionResultType]::ParameterValue, 'Never let a device lead its office (it still downloads and shares with its office''s peers)')
            [CompletionResult]::new('readmit', 'readmit', [CompletionResultType]::ParameterValue, 'Let a retired device id enroll again (with no id: list the retired devices)')
            [CompletionResult]::new('unban', 'unban', [CompletionResultType]::ParameterValue, 'Lift a device''s bans and forget the bad-piece reports against it (bans also expire by themselves after a day)')
            break
        }
        'p2pd;devices;list' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `csv` writes comma-separated values with a header row, for spreadsheets (`json` is the same as --json)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the list to FILE instead of standard output')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the list to FILE instead of standard output')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show full device ids and every column, however wide')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'p2pd;devices;retire' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Retire it even though it is online')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;devices;prefer' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;devices;unprefer' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;devices;exclude' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;devices;readmit' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;devices;unban' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;completions' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'p2pd;explain' {
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'The device: its id (or a prefix of 4+ characters), hostname or address')
            [CompletionResult]::new('--content', '--content', [CompletionResultType]::ParameterName, 'The content: its id (or a prefix of 4+ characters), NAME or "NAME VERSION"')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON instead of a table')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'p2pd;ui' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Make a new admin token (the old one stops working at once) and print it with the dashboard''s address')
            break
        }
        'p2pd;ui;token' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"admin_token", "url"} as JSON')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
