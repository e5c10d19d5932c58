# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2pd_global_optspecs
    string join \n data-dir= database= v/verbose h/help V/version
end

function __fish_p2pd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_p2pd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_p2pd_using_subcommand
    set -l cmd (__fish_p2pd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c p2pd -n "__fish_p2pd_needs_command" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_needs_command" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_needs_command" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_needs_command" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "install" -d 'Install the server: data dir, database, server ID and shared key'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "key" -d 'Show the key fingerprint or regenerate the shared key'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "ca" -d 'The server CA: its fingerprint, certificates for a load balancer'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "settings" -d 'Show or change server settings'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "status" -d 'Show the server ID, key fingerprint, settings and counts'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "topology" -d 'Offices and their IP ranges: import, export, show, locate'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "demo" -d 'Run a real local distribution: server, 3 offices, 12 agents on loopback'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "serve" -d 'Run the server: control plane and central seed'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "agent" -d 'Run the peer client on a device, or install it (`agent install`)'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "report" -d 'Per office and content: bytes from LAN, parent office, server and CDN; WAN copies'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "publish" -d 'Publish packages from file storage: hash, cut in pieces, target groups'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "content" -d 'Show published content'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "db" -d 'Move the database: copy an install into an empty PostgreSQL database'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "groups" -d 'Assign the groups whose devices receive content through peer distribution'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "licenses" -d 'The Activated Licenses report: devices holding a license'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "health" -d 'Check the whole system: database, server, key, versions, storage, topology, clock'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "devices" -d 'Enrolled devices: office, group, version, score, state'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "completions" -d 'Print the shell completion script for bash, zsh, fish, powershell or elvish'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "explain" -d 'Why a device got a content the way it did: office, role, leader, tiers, bans, failovers'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "ui" -d 'The read-only web dashboard: rotate its admin token'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l server-name -d 'Server name or IP address the agents will connect to' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l port -d 'TCP port of the server' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l file-storage -d 'Package storage: an absolute directory (which must exist) or an http(s) base URL' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l cdn-url -d 'CDN base URL, the last-resort download source' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l root -d 'With --systemd: write the unit below DIR (DIR/etc/systemd/system) instead of /' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l allow-missing-storage -d 'Accept a --file-storage directory that does not exist yet (storage mounted later)'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l regenerate-key -d 'On an existing install: make a new shared key and keep everything else'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l json -d 'Print the result as JSON (server_id, key, key_fingerprint, key_version, data_dir). On an existing install with the same settings: the same without the key, and "already_installed": true'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l systemd -d 'Also write the p2pd.service systemd unit that serves this data dir, running a copy of this binary installed at /usr/local/bin/p2pd. On an existing install, only these two are written (safe to re-run)'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l force -d 'With --systemd: overwrite a unit file that differs from what would be written'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate" -f -a "fingerprint" -d 'Show the current key\'s fingerprint and version (never the key)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate" -f -a "regenerate" -d 'Make a new shared key; the old one stops working everywhere'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and not __fish_seen_subcommand_from fingerprint issue-proxy regenerate" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and not __fish_seen_subcommand_from fingerprint issue-proxy regenerate" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and not __fish_seen_subcommand_from fingerprint issue-proxy regenerate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and not __fish_seen_subcommand_from fingerprint issue-proxy regenerate" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and not __fish_seen_subcommand_from fingerprint issue-proxy regenerate" -f -a "fingerprint" -d 'Show the server CA\'s SHA-256 fingerprint (agents\' --ca-fingerprint)'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and not __fish_seen_subcommand_from fingerprint issue-proxy regenerate" -f -a "issue-proxy" -d 'Issue a certificate and key from the CA for a TLS-terminating load balancer in front of serve: agents accept it because it is from the CA. Give serve the balancer\'s address with --trusted-proxy'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and not __fish_seen_subcommand_from fingerprint issue-proxy regenerate" -f -a "regenerate" -d 'Replace the server CA with a new one (when its key may have leaked). Restart serve on every replica, then give agents the new ca.pem (or fingerprint): agents pinned to the old CA refuse the server until then'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from fingerprint" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from fingerprint" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from fingerprint" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from fingerprint" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from fingerprint" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from issue-proxy" -l name -d 'Host name or address agents dial (repeat for several)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from issue-proxy" -l out -d 'Directory to write proxy.pem (certificate and the CA after it) and proxy.key (owner-only) into' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from issue-proxy" -l days -d 'Days the certificate is valid' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from issue-proxy" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from issue-proxy" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from issue-proxy" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from issue-proxy" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from issue-proxy" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from regenerate" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from regenerate" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from regenerate" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from regenerate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand ca; and __fish_seen_subcommand_from regenerate" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set" -f -a "show" -d 'Show every setting with its value'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set" -f -a "set" -d 'Change one setting (validated; an unknown name lists the valid ones)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -l allow-missing-storage -d 'Accept a file_storage directory that does not exist yet (for storage mounted later); without it, a missing directory is an error'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and not __fish_seen_subcommand_from import export show locate" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and not __fish_seen_subcommand_from import export show locate" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and not __fish_seen_subcommand_from import export show locate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and not __fish_seen_subcommand_from import export show locate" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and not __fish_seen_subcommand_from import export show locate" -f -a "import" -d 'Import the network topology from a CSV or .xlsx file'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and not __fish_seen_subcommand_from import export show locate" -f -a "export" -d 'Write the topology as recorded, in the import format'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and not __fish_seen_subcommand_from import export show locate" -f -a "show" -d 'Draw the office tree with types, ranges, WAN caps and device counts'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and not __fish_seen_subcommand_from import export show locate" -f -a "locate" -d 'Show which office each address belongs to, or why it has none'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from import" -l sheet -d 'Sheet of an .xlsx workbook (default: the first)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from import" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from import" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from import" -l dry-run -d 'Validate and print what would change, without writing anything'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from import" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from import" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from export" -s o -l output -d 'Write to FILE instead of stdout' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from export" -l format -d 'csv, or xlsx for an Excel workbook (one sheet, "Topology") that imports back unchanged [default: xlsx when FILE ends in .xlsx, else csv]' -r -f -a "csv\t''
xlsx\t''"
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from export" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from export" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from export" -l excel -d 'CSV as Excel in European locales writes and reads it: \';\' between fields, a UTF-8 BOM, CRLF line ends. Without --excel or --plain, export writes CSV as the last imported CSV file was written (its delimiter, BOM and line ends)'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from export" -l plain -d 'Plain CSV: \',\' between fields, LF line ends, no BOM'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from export" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from show" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from show" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from locate" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from locate" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from locate" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from locate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand topology; and __fish_seen_subcommand_from locate" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -l size -d 'Package size, in MiB' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -l devices -d 'Devices per office' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -l timeout -d 'Give up after this many seconds' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -l keep -d 'Keep the temporary directory (for inspection) instead of deleting it'
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -l json -d 'Print the final report as JSON'
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -l stay -d 'After the report, keep serve and the agents running until Ctrl-C, so the dashboard (whose address the demo prints) stays open'
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand demo" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand serve" -l listen -d 'Address to listen on (default: the server_name setting and port)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand serve" -l tls-name -d 'A host name or address agents use to reach this server, put in the server certificate (repeat for several). The listen address, the server_name setting and, on a wildcard listen, localhost and 127.0.0.1 are always in it' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand serve" -l trusted-proxy -d 'Address of a TLS-terminating load balancer in front of this server (repeat for several): its requests may forward the client\'s device certificate in the X-P2PD-Client-Cert header, which is verified against the CA. Ignored from any other address' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand serve" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand serve" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand serve" -l insecure-plain-http -d 'Serve plain HTTP: no TLS, no device certificates. For benchmarks only, with agents started with --insecure-plain-http'
complete -c p2pd -n "__fish_p2pd_using_subcommand serve" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand serve" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l server -d 'Server URL, e.g. https://10.0.0.5:7650. Several replicas of one server: repeat it or separate with commas; the agent spreads over them and moves to another when one fails' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l key-file -d 'File holding the shared key (base64, as printed by install). `agent install` copies it to /etc/p2pd/agent.key (on Windows: agent.key in the data dir); re-run it with a new key file after `p2pd key regenerate`: the running agent picks the new key up' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l group -d 'The device\'s group (must be assigned to peer distribution)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l listen -d 'Address the agent\'s peer server listens on. The default, `[::]:7651`, is port 7651 on every address of every family the device has (IPv4 too; IPv4 alone on a host without IPv6), so it keeps listening when DHCP, Wi-Fi or a VPN change its addresses' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l advertise -d 'A fixed address other devices reach this one at, for a device behind NAT or a port forward. Without it (the usual case) the server tells peers the address this device reaches it from now, on the --listen port, and follows it when it changes. Never the source address of the agent\'s connections: the operating system picks that' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l source-address -d 'Bind every outgoing connection to this source address. Only for tests and hosts that run several agents on one machine (each on its own loopback address): a real device changes addresses, and a fixed source stops working when it does' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l ca -d 'The server CA\'s certificate (the server\'s DATA_DIR/ca.pem): the server and every peer must prove a certificate from it. `agent install` copies it next to the key' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l ca-fingerprint -d 'The server CA\'s SHA-256 fingerprint, as `p2pd install` printed it: the agent learns the CA from the server at first contact, keeps it only if it has this fingerprint, and caches it in its data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l prefix-len -d 'Prefix length of the subnet of --advertise or --source-address (default /24, /64 for IPv6); interface addresses carry their own' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l on-complete -d 'Command to run after each delivery, with the delivered file\'s path as its argument (and in P2PD_DELIVERED). Files are delivered to DATA_DIR/delivered/NAME/VERSION/FILE, one directory per package name and version, so packages never overwrite each other' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l parallel -d 'Pieces in flight per content' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l metrics-listen -d 'Serve this agent\'s Prometheus metrics at http://ADDR/metrics (off by default; no credentials, so bind it to a loopback or management address)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l data-dir -d 'The agent\'s own data directory (piece store, delivered files, transfer log), never the server\'s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -l insecure-plain-http -d 'Talk plain HTTP to the server and peers: no TLS, no certificates. For benchmarks against `serve --insecure-plain-http` only'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -f -a "install" -d 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall" -f -a "uninstall" -d 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l server -d 'Server URL, e.g. https://10.0.0.5:7650. Several replicas of one server: repeat it or separate with commas; the agent spreads over them and moves to another when one fails' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l key-file -d 'File holding the shared key (base64, as printed by install). `agent install` copies it to /etc/p2pd/agent.key (on Windows: agent.key in the data dir); re-run it with a new key file after `p2pd key regenerate`: the running agent picks the new key up' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l group -d 'The device\'s group (must be assigned to peer distribution)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l listen -d 'Address the agent\'s peer server listens on. The default, `[::]:7651`, is port 7651 on every address of every family the device has (IPv4 too; IPv4 alone on a host without IPv6), so it keeps listening when DHCP, Wi-Fi or a VPN change its addresses' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l advertise -d 'A fixed address other devices reach this one at, for a device behind NAT or a port forward. Without it (the usual case) the server tells peers the address this device reaches it from now, on the --listen port, and follows it when it changes. Never the source address of the agent\'s connections: the operating system picks that' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l source-address -d 'Bind every outgoing connection to this source address. Only for tests and hosts that run several agents on one machine (each on its own loopback address): a real device changes addresses, and a fixed source stops working when it does' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l ca-fingerprint -d 'The server CA\'s SHA-256 fingerprint, as `p2pd install` printed it: the agent learns the CA from the server at first contact, keeps it only if it has this fingerprint, and caches it in its data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l root -d 'Write below DIR instead of / (DIR/etc/p2pd, DIR/etc/systemd/system; systemd only)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l ca -d 'The server CA\'s certificate (the server\'s DATA_DIR/ca.pem): the server and every peer must prove a certificate from it. `agent install` copies it next to the key' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l data-dir -d 'The agent\'s own data directory (piece store, delivered files, transfer log), never the server\'s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l insecure-plain-http -d 'Talk plain HTTP to the server and peers: no TLS, no certificates. For benchmarks against `serve --insecure-plain-http` only'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l force -d 'Overwrite files (and the Windows service\'s registration) that differ from what would be written. Not needed for a new key (--key-file) or a new p2pd binary: those are replaced whenever they differ'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -l json -d 'Print {"files": [{"path", "outcome"}], "key_replaced", "next"} as JSON'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l root -d 'Remove below DIR instead of / (as given to `agent install --root`; systemd only)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l data-dir -d 'The agent\'s own data directory (piece store, delivered files, transfer log), never the server\'s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand report" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand report" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand report" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand report" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l name -d 'Package name, instead of the one taken from the path (one package only)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l version -d 'Package version, instead of the one taken from the path (one package only)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l groups -d 'Target only these assigned groups (comma-separated) instead of all assigned groups' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l all -d 'Publish every package in file storage'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l verify -d 'Hash packages whose size and mtime are unchanged too, and republish any whose bytes changed'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l prune -d 'Withdraw packages no longer in storage and superseded versions'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show" -f -a "list" -d 'List published content: name, version, size, pieces, targets, time'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show" -f -a "show" -d 'Show one content, with its piece hashes in --json'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -l wide -d 'Show full content ids (the table shows the first 12 hex digits)'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and not __fish_seen_subcommand_from copy" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and not __fish_seen_subcommand_from copy" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and not __fish_seen_subcommand_from copy" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and not __fish_seen_subcommand_from copy" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and not __fish_seen_subcommand_from copy" -f -a "copy" -d 'Copy this install (offices, groups, content, devices, history, key, server CA) into an empty database, then compare every table\'s row count. Stop `serve` first: writes made during the copy are not carried'
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and __fish_seen_subcommand_from copy" -l to -d 'The empty destination: postgres://USER@HOST[:PORT]/DB (the source is the data dir\'s database, or --database)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and __fish_seen_subcommand_from copy" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and __fish_seen_subcommand_from copy" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and __fish_seen_subcommand_from copy" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and __fish_seen_subcommand_from copy" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand db; and __fish_seen_subcommand_from copy" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list" -f -a "assign" -d 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list" -f -a "unassign" -d 'Unassign groups: their content targets go, their devices\' licenses are released'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list" -f -a "list" -d 'List assigned groups with their devices, licenses and contents'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand licenses" -l format -d 'Output format (--json is the same as --format json)' -r -f -a "table\t'Aligned columns for people'
csv\t'Comma-separated values with a header row, for spreadsheets'
json\t'A JSON array of objects, for scripts (same as --json)'"
complete -c p2pd -n "__fish_p2pd_using_subcommand licenses" -s o -l output -d 'Write the report to FILE instead of standard output' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand licenses" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand licenses" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand licenses" -l json -d 'Print JSON for scripts, like every other command\'s --json'
complete -c p2pd -n "__fish_p2pd_using_subcommand licenses" -l wide -d 'Show whole device ids in the table (by default the first 8 characters; CSV and JSON always have whole ids)'
complete -c p2pd -n "__fish_p2pd_using_subcommand licenses" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand licenses" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -l server -d 'Server URL to check (default: https://SERVER_NAME:PORT from the settings)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -l timeout -d 'Seconds to wait for the server\'s answer' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -l deep -d 'Also re-hash every published package in file storage against its content ID (reads every byte; slow on large libraries)'
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -l strict -d 'Treat warnings (such as no-office clients) as failures'
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand health" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -f -a "list" -d 'List devices: office, group, version, last seen, preferred-device score, the admin\'s preference and state (online, offline, banned, stuck, stale key)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -f -a "retire" -d 'Retire a device for good: release its license and forget it (its past transfers stay in `report`). Its id stays refused, even with a valid certificate and the key, until `devices readmit`'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -f -a "prefer" -d 'Make a device lead its office whenever it is online (ranked before every device that is not preferred)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -f -a "unprefer" -d 'Undo `prefer` or `exclude`: rank the device by its history alone'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -f -a "exclude" -d 'Never let a device lead its office (it still downloads and shares with its office\'s peers)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -f -a "readmit" -d 'Let a retired device id enroll again (with no id: list the retired devices)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and not __fish_seen_subcommand_from list retire prefer unprefer exclude readmit unban" -f -a "unban" -d 'Lift a device\'s bans and forget the bad-piece reports against it (bans also expire by themselves after a day)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from list" -l format -d 'Output format: `csv` writes comma-separated values with a header row, for spreadsheets (`json` is the same as --json)' -r -f -a "table\t'Aligned columns for people'
csv\t'Comma-separated values with a header row, for spreadsheets'
json\t'A JSON array of objects, for scripts (same as --json)'"
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from list" -s o -l output -d 'Write the list to FILE instead of standard output' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from list" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from list" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from list" -l wide -d 'Show full device ids and every column, however wide'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from retire" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from retire" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from retire" -l force -d 'Retire it even though it is online'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from retire" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from retire" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from retire" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from prefer" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from prefer" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from prefer" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from prefer" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from prefer" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unprefer" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unprefer" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unprefer" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unprefer" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unprefer" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from exclude" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from exclude" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from exclude" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from exclude" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from exclude" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from readmit" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from readmit" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from readmit" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from readmit" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from readmit" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unban" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unban" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unban" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand devices; and __fish_seen_subcommand_from unban" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand completions" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand completions" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand completions" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand explain" -l device -d 'The device: its id (or a prefix of 4+ characters), hostname or address' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand explain" -l content -d 'The content: its id (or a prefix of 4+ characters), NAME or "NAME VERSION"' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand explain" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand explain" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand explain" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand explain" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand explain" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and not __fish_seen_subcommand_from token" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and not __fish_seen_subcommand_from token" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and not __fish_seen_subcommand_from token" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and not __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and not __fish_seen_subcommand_from token" -f -a "token" -d 'Make a new admin token (the old one stops working at once) and print it with the dashboard\'s address'
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and __fish_seen_subcommand_from token" -l data-dir -d 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and __fish_seen_subcommand_from token" -l database -d 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and __fish_seen_subcommand_from token" -l json -d 'Print {"admin_token", "url"} as JSON'
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and __fish_seen_subcommand_from token" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand ui; and __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
