
use builtin;
use str;

set edit:completion:arg-completer[p2pd] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'p2pd'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'p2pd'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand install 'Install the server: data dir, database, server ID and shared key'
            cand key 'Show the key fingerprint or regenerate the shared key'
            cand ca 'The server CA: its fingerprint, certificates for a load balancer'
            cand settings 'Show or change server settings'
            cand status 'Show the server ID, key fingerprint, settings and counts'
            cand topology 'Offices and their IP ranges: import, export, show, locate'
            cand demo 'Run a real local distribution: server, 3 offices, 12 agents on loopback'
            cand serve 'Run the server: control plane and central seed'
            cand agent 'Run the peer client on a device, or install it (`agent install`)'
            cand report 'Per office and content: bytes from LAN, parent office, server and CDN; WAN copies'
            cand publish 'Publish packages from file storage: hash, cut in pieces, target groups'
            cand content 'Show published content'
            cand db 'Move the database: copy an install into an empty PostgreSQL database'
            cand groups 'Assign the groups whose devices receive content through peer distribution'
            cand licenses 'The Activated Licenses report: devices holding a license'
            cand health 'Check the whole system: database, server, key, versions, storage, topology, clock'
            cand devices 'Enrolled devices: office, group, version, score, state'
            cand completions 'Print the shell completion script for bash, zsh, fish, powershell or elvish'
            cand explain 'Why a device got a content the way it did: office, role, leader, tiers, bans, failovers'
            cand ui 'The read-only web dashboard: rotate its admin token'
        }
        &'p2pd;install'= {
            cand --server-name 'Server name or IP address the agents will connect to'
            cand --port 'TCP port of the server'
            cand --file-storage 'Package storage: an absolute directory (which must exist) or an http(s) base URL'
            cand --cdn-url 'CDN base URL, the last-resort download source'
            cand --root 'With --systemd: write the unit below DIR (DIR/etc/systemd/system) instead of /'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --allow-missing-storage 'Accept a --file-storage directory that does not exist yet (storage mounted later)'
            cand --regenerate-key 'On an existing install: make a new shared key and keep everything else'
            cand --json 'Print the result as JSON (server_id, key, key_fingerprint, key_version, data_dir). On an existing install with the same settings: the same without the key, and "already_installed": true'
            cand --systemd 'Also write the p2pd.service systemd unit that serves this data dir, running a copy of this binary installed at /usr/local/bin/p2pd. On an existing install, only these two are written (safe to re-run)'
            cand --force 'With --systemd: overwrite a unit file that differs from what would be written'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;key'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand fingerprint 'Show the current key''s fingerprint and version (never the key)'
            cand regenerate 'Make a new shared key; the old one stops working everywhere'
        }
        &'p2pd;key;fingerprint'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;key;regenerate'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;ca'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand fingerprint 'Show the server CA''s SHA-256 fingerprint (agents'' --ca-fingerprint)'
            cand issue-proxy 'Issue a certificate and key from the CA for a TLS-terminating load balancer in front of serve: agents accept it because it is from the CA. Give serve the balancer''s address with --trusted-proxy'
            cand regenerate 'Replace the server CA with a new one (when its key may have leaked). Restart serve on every replica, then give agents the new ca.pem (or fingerprint): agents pinned to the old CA refuse the server until then'
        }
        &'p2pd;ca;fingerprint'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;ca;issue-proxy'= {
            cand --name 'Host name or address agents dial (repeat for several)'
            cand --out 'Directory to write proxy.pem (certificate and the CA after it) and proxy.key (owner-only) into'
            cand --days 'Days the certificate is valid'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;ca;regenerate'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;settings'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand show 'Show every setting with its value'
            cand set 'Change one setting (validated; an unknown name lists the valid ones)'
        }
        &'p2pd;settings;show'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;settings;set'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --allow-missing-storage 'Accept a file_storage directory that does not exist yet (for storage mounted later); without it, a missing directory is an error'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'p2pd;status'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;topology'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand import 'Import the network topology from a CSV or .xlsx file'
            cand export 'Write the topology as recorded, in the import format'
            cand show 'Draw the office tree with types, ranges, WAN caps and device counts'
            cand locate 'Show which office each address belongs to, or why it has none'
        }
        &'p2pd;topology;import'= {
            cand --sheet 'Sheet of an .xlsx workbook (default: the first)'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --dry-run 'Validate and print what would change, without writing anything'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'p2pd;topology;export'= {
            cand -o 'Write to FILE instead of stdout'
            cand --output 'Write to FILE instead of stdout'
            cand --format 'csv, or xlsx for an Excel workbook (one sheet, "Topology") that imports back unchanged [default: xlsx when FILE ends in .xlsx, else csv]'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --excel 'CSV as Excel in European locales writes and reads it: '';'' between fields, a UTF-8 BOM, CRLF line ends. Without --excel or --plain, export writes CSV as the last imported CSV file was written (its delimiter, BOM and line ends)'
            cand --plain 'Plain CSV: '','' between fields, LF line ends, no BOM'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'p2pd;topology;show'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;topology;locate'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;demo'= {
            cand --size 'Package size, in MiB'
            cand --devices 'Devices per office'
            cand --timeout 'Give up after this many seconds'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --keep 'Keep the temporary directory (for inspection) instead of deleting it'
            cand --json 'Print the final report as JSON'
            cand --stay 'After the report, keep serve and the agents running until Ctrl-C, so the dashboard (whose address the demo prints) stays open'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;serve'= {
            cand --listen 'Address to listen on (default: the server_name setting and port)'
            cand --tls-name 'A host name or address agents use to reach this server, put in the server certificate (repeat for several). The listen address, the server_name setting and, on a wildcard listen, localhost and 127.0.0.1 are always in it'
            cand --trusted-proxy 'Address of a TLS-terminating load balancer in front of this server (repeat for several): its requests may forward the client''s device certificate in the X-P2PD-Client-Cert header, which is verified against the CA. Ignored from any other address'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --insecure-plain-http 'Serve plain HTTP: no TLS, no device certificates. For benchmarks only, with agents started with --insecure-plain-http'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;agent'= {
            cand --server 'Server URL, e.g. https://10.0.0.5:7650. Several replicas of one server: repeat it or separate with commas; the agent spreads over them and moves to another when one fails'
            cand --key-file 'File holding the shared key (base64, as printed by install). `agent install` copies it to /etc/p2pd/agent.key (on Windows: agent.key in the data dir); re-run it with a new key file after `p2pd key regenerate`: the running agent picks the new key up'
            cand --group 'The device''s group (must be assigned to peer distribution)'
            cand --listen 'Address the agent''s peer server listens on. The default, `[::]:7651`, is port 7651 on every address of every family the device has (IPv4 too; IPv4 alone on a host without IPv6), so it keeps listening when DHCP, Wi-Fi or a VPN change its addresses'
            cand --advertise 'A fixed address other devices reach this one at, for a device behind NAT or a port forward. Without it (the usual case) the server tells peers the address this device reaches it from now, on the --listen port, and follows it when it changes. Never the source address of the agent''s connections: the operating system picks that'
            cand --source-address 'Bind every outgoing connection to this source address. Only for tests and hosts that run several agents on one machine (each on its own loopback address): a real device changes addresses, and a fixed source stops working when it does'
            cand --ca 'The server CA''s certificate (the server''s DATA_DIR/ca.pem): the server and every peer must prove a certificate from it. `agent install` copies it next to the key'
            cand --ca-fingerprint 'The server CA''s SHA-256 fingerprint, as `p2pd install` printed it: the agent learns the CA from the server at first contact, keeps it only if it has this fingerprint, and caches it in its data dir'
            cand --prefix-len 'Prefix length of the subnet of --advertise or --source-address (default /24, /64 for IPv6); interface addresses carry their own'
            cand --on-complete 'Command to run after each delivery, with the delivered file''s path as its argument (and in P2PD_DELIVERED). Files are delivered to DATA_DIR/delivered/NAME/VERSION/FILE, one directory per package name and version, so packages never overwrite each other'
            cand --parallel 'Pieces in flight per content'
            cand --metrics-listen 'Serve this agent''s Prometheus metrics at http://ADDR/metrics (off by default; no credentials, so bind it to a loopback or management address)'
            cand --data-dir 'The agent''s own data directory (piece store, delivered files, transfer log), never the server''s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --insecure-plain-http 'Talk plain HTTP to the server and peers: no TLS, no certificates. For benchmarks against `serve --insecure-plain-http` only'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand install 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)'
            cand uninstall 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept'
        }
        &'p2pd;agent;install'= {
            cand --server 'Server URL, e.g. https://10.0.0.5:7650. Several replicas of one server: repeat it or separate with commas; the agent spreads over them and moves to another when one fails'
            cand --key-file 'File holding the shared key (base64, as printed by install). `agent install` copies it to /etc/p2pd/agent.key (on Windows: agent.key in the data dir); re-run it with a new key file after `p2pd key regenerate`: the running agent picks the new key up'
            cand --group 'The device''s group (must be assigned to peer distribution)'
            cand --listen 'Address the agent''s peer server listens on. The default, `[::]:7651`, is port 7651 on every address of every family the device has (IPv4 too; IPv4 alone on a host without IPv6), so it keeps listening when DHCP, Wi-Fi or a VPN change its addresses'
            cand --advertise 'A fixed address other devices reach this one at, for a device behind NAT or a port forward. Without it (the usual case) the server tells peers the address this device reaches it from now, on the --listen port, and follows it when it changes. Never the source address of the agent''s connections: the operating system picks that'
            cand --source-address 'Bind every outgoing connection to this source address. Only for tests and hosts that run several agents on one machine (each on its own loopback address): a real device changes addresses, and a fixed source stops working when it does'
            cand --ca-fingerprint 'The server CA''s SHA-256 fingerprint, as `p2pd install` printed it: the agent learns the CA from the server at first contact, keeps it only if it has this fingerprint, and caches it in its data dir'
            cand --root 'Write below DIR instead of / (DIR/etc/p2pd, DIR/etc/systemd/system; systemd only)'
            cand --ca 'The server CA''s certificate (the server''s DATA_DIR/ca.pem): the server and every peer must prove a certificate from it. `agent install` copies it next to the key'
            cand --data-dir 'The agent''s own data directory (piece store, delivered files, transfer log), never the server''s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --insecure-plain-http 'Talk plain HTTP to the server and peers: no TLS, no certificates. For benchmarks against `serve --insecure-plain-http` only'
            cand --force 'Overwrite files (and the Windows service''s registration) that differ from what would be written. Not needed for a new key (--key-file) or a new p2pd binary: those are replaced whenever they differ'
            cand --json 'Print {"files": [{"path", "outcome"}], "key_replaced", "next"} as JSON'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;agent;uninstall'= {
            cand --root 'Remove below DIR instead of / (as given to `agent install --root`; systemd only)'
            cand --data-dir 'The agent''s own data directory (piece store, delivered files, transfer log), never the server''s; also P2PD_AGENT_DATA_DIR [default: /var/lib/p2pd-agent]'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;report'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'p2pd;publish'= {
            cand --name 'Package name, instead of the one taken from the path (one package only)'
            cand --version 'Package version, instead of the one taken from the path (one package only)'
            cand --groups 'Target only these assigned groups (comma-separated) instead of all assigned groups'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --all 'Publish every package in file storage'
            cand --verify 'Hash packages whose size and mtime are unchanged too, and republish any whose bytes changed'
            cand --prune 'Withdraw packages no longer in storage and superseded versions'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'p2pd;content'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List published content: name, version, size, pieces, targets, time'
            cand show 'Show one content, with its piece hashes in --json'
        }
        &'p2pd;content;list'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand --wide 'Show full content ids (the table shows the first 12 hex digits)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;content;show'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;db'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand copy 'Copy this install (offices, groups, content, devices, history, key, server CA) into an empty database, then compare every table''s row count. Stop `serve` first: writes made during the copy are not carried'
        }
        &'p2pd;db;copy'= {
            cand --to 'The empty destination: postgres://USER@HOST[:PORT]/DB (the source is the data dir''s database, or --database)'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;groups'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand assign 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups'
            cand unassign 'Unassign groups: their content targets go, their devices'' licenses are released'
            cand list 'List assigned groups with their devices, licenses and contents'
        }
        &'p2pd;groups;assign'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;groups;unassign'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;groups;list'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;licenses'= {
            cand --format 'Output format (--json is the same as --format json)'
            cand -o 'Write the report to FILE instead of standard output'
            cand --output 'Write the report to FILE instead of standard output'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print JSON for scripts, like every other command''s --json'
            cand --wide 'Show whole device ids in the table (by default the first 8 characters; CSV and JSON always have whole ids)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'p2pd;health'= {
            cand --server 'Server URL to check (default: https://SERVER_NAME:PORT from the settings)'
            cand --timeout 'Seconds to wait for the server''s answer'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --deep 'Also re-hash every published package in file storage against its content ID (reads every byte; slow on large libraries)'
            cand --strict 'Treat warnings (such as no-office clients) as failures'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;devices'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List devices: office, group, version, last seen, preferred-device score, the admin''s preference and state (online, offline, banned, stuck, stale key)'
            cand retire 'Retire a device for good: release its license and forget it (its past transfers stay in `report`). Its id stays refused, even with a valid certificate and the key, until `devices readmit`'
            cand prefer 'Make a device lead its office whenever it is online (ranked before every device that is not preferred)'
            cand unprefer 'Undo `prefer` or `exclude`: rank the device by its history alone'
            cand exclude 'Never let a device lead its office (it still downloads and shares with its office''s peers)'
            cand readmit 'Let a retired device id enroll again (with no id: list the retired devices)'
            cand unban 'Lift a device''s bans and forget the bad-piece reports against it (bans also expire by themselves after a day)'
        }
        &'p2pd;devices;list'= {
            cand --format 'Output format: `csv` writes comma-separated values with a header row, for spreadsheets (`json` is the same as --json)'
            cand -o 'Write the list to FILE instead of standard output'
            cand --output 'Write the list to FILE instead of standard output'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand --wide 'Show full device ids and every column, however wide'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'p2pd;devices;retire'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --force 'Retire it even though it is online'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;devices;prefer'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;devices;unprefer'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;devices;exclude'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;devices;readmit'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;devices;unban'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;completions'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'p2pd;explain'= {
            cand --device 'The device: its id (or a prefix of 4+ characters), hostname or address'
            cand --content 'The content: its id (or a prefix of 4+ characters), NAME or "NAME VERSION"'
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'p2pd;ui'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand token 'Make a new admin token (the old one stops working at once) and print it with the dashboard''s address'
        }
        &'p2pd;ui;token'= {
            cand --data-dir 'Data directory of the server (database, key, logs); env P2PD_DATA_DIR; default /var/lib/p2pd for root, else ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)'
            cand --database 'The database: postgres://USER@HOST[:PORT]/DB for several serve replicas sharing one PostgreSQL (see README "Scaling out"); default: the SQLite file in the data dir'
            cand --json 'Print {"admin_token", "url"} as JSON'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
    ]
    $completions[$command]
}
