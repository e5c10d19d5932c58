
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
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand install 'Install the server: data dir, database, server ID and shared key'
            cand key 'Show the key fingerprint or regenerate the shared key'
            cand settings 'Show or change server settings'
            cand status 'Show the server ID, key fingerprint, settings and counts'
            cand topology 'Offices and their IP ranges: import, export, show, locate'
            cand demo 'Run a real local distribution: server, 3 offices, 12 agents on loopback'
            cand serve 'Run the server: control plane and central seed'
            cand agent 'Run the peer client on a device, or install it (`agent install`)'
            cand report 'Per office and content: bytes from LAN, parent office, server and CDN; WAN copies'
            cand publish 'Publish packages from file storage: hash, cut in pieces, target groups'
            cand content 'Show published content'
            cand groups 'Assign the groups whose devices receive content through peer distribution'
            cand licenses 'The Activated Licenses report: devices holding a license'
            cand health 'Check the whole system: database, server, key, versions, storage, topology, clock'
            cand devices 'Enrolled devices: office, group, version, score, state'
            cand generate 'Write man pages and shell completions (for packagers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;install'= {
            cand --server-name 'Server name or IP address the agents will connect to'
            cand --port 'TCP port of the server'
            cand --file-storage 'Package storage: an absolute directory or an http(s) base URL'
            cand --cdn-url 'CDN base URL, the last-resort download source'
            cand --root 'With --systemd: write the unit below DIR (DIR/etc/systemd/system) instead of /'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --regenerate-key 'On an existing install: make a new shared key and keep everything else'
            cand --json 'Print the result as JSON (server_id, key, key_fingerprint, data_dir)'
            cand --systemd 'Also write the p2pd.service systemd unit that serves this data dir. On an existing install, only the unit is written (safe to re-run)'
            cand --force 'With --systemd: overwrite a unit file that differs from what would be written'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;key'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand fingerprint 'Show the current key''s fingerprint and version (never the key)'
            cand regenerate 'Make a new shared key; the old one stops working everywhere'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;key;fingerprint'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;key;regenerate'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;key;help'= {
            cand fingerprint 'Show the current key''s fingerprint and version (never the key)'
            cand regenerate 'Make a new shared key; the old one stops working everywhere'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;key;help;fingerprint'= {
        }
        &'p2pd;key;help;regenerate'= {
        }
        &'p2pd;key;help;help'= {
        }
        &'p2pd;settings'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Show every setting with its value'
            cand set 'Change one setting (validated; an unknown name lists the valid ones)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;settings;show'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;settings;set'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;settings;help'= {
            cand show 'Show every setting with its value'
            cand set 'Change one setting (validated; an unknown name lists the valid ones)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;settings;help;show'= {
        }
        &'p2pd;settings;help;set'= {
        }
        &'p2pd;settings;help;help'= {
        }
        &'p2pd;status'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;topology'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand import 'Import the network topology from a CSV or .xlsx file'
            cand export 'Write the topology as recorded, in the import format'
            cand show 'Draw the office tree with types, ranges, WAN caps and device counts'
            cand locate 'Show which office each address belongs to, or why it has none'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;topology;import'= {
            cand --sheet 'Sheet of an .xlsx workbook (default: the first)'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --dry-run 'Validate and print what would change, without writing anything'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;topology;export'= {
            cand -o 'Write to FILE instead of stdout'
            cand --output 'Write to FILE instead of stdout'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;topology;show'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;topology;locate'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;topology;help'= {
            cand import 'Import the network topology from a CSV or .xlsx file'
            cand export 'Write the topology as recorded, in the import format'
            cand show 'Draw the office tree with types, ranges, WAN caps and device counts'
            cand locate 'Show which office each address belongs to, or why it has none'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;topology;help;import'= {
        }
        &'p2pd;topology;help;export'= {
        }
        &'p2pd;topology;help;show'= {
        }
        &'p2pd;topology;help;locate'= {
        }
        &'p2pd;topology;help;help'= {
        }
        &'p2pd;demo'= {
            cand --size 'Package size, in MiB'
            cand --devices 'Devices per office'
            cand --timeout 'Give up after this many seconds'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --keep 'Keep the temporary directory (for inspection) instead of deleting it'
            cand --json 'Print the final report as JSON'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;serve'= {
            cand --listen 'Address to listen on (default: the server_name setting and port)'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;agent'= {
            cand --server 'Server URL, e.g. http://10.0.0.5:7650'
            cand --key-file 'File holding the shared key (base64, as printed by install)'
            cand --group 'The device''s group (must be assigned to peer distribution)'
            cand --listen 'Address the peer server listens on'
            cand --advertise 'Address other devices reach this one at; also the source address of its connections (default: --listen)'
            cand --prefix-len 'Prefix length of the device''s subnet (default /24, /64 for IPv6)'
            cand --on-complete 'Command to run with the delivered file''s path as its argument'
            cand --parallel 'Pieces in flight per content'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand install 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)'
            cand uninstall 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept'
            cand service 'What the Windows service runs: the agent from the configuration `agent install` wrote, under the service control manager'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;agent;install'= {
            cand --server 'Server URL, e.g. http://10.0.0.5:7650'
            cand --key-file 'File holding the shared key (base64, as printed by install); copied to /etc/p2pd/agent.key (on Windows: agent.key in the data dir)'
            cand --group 'The device''s group (must be assigned to peer distribution)'
            cand --listen 'Address the agent''s peer server listens on'
            cand --advertise 'Address other devices reach this one at (default: the address this host uses to reach the server, with the --listen port)'
            cand --root 'Write below DIR instead of / (DIR/etc/p2pd, DIR/etc/systemd/system; systemd only)'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --force 'Overwrite files (and the Windows service''s registration) that differ from what would be written'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;agent;uninstall'= {
            cand --root 'Remove below DIR instead of / (as given to `agent install --root`; systemd only)'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;agent;service'= {
            cand --config 'The configuration `agent install` wrote (service.json in the data dir)'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --console 'Run in this console instead of under the service control manager, to see why the service does not start'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;agent;help'= {
            cand install 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)'
            cand uninstall 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept'
            cand service 'What the Windows service runs: the agent from the configuration `agent install` wrote, under the service control manager'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;agent;help;install'= {
        }
        &'p2pd;agent;help;uninstall'= {
        }
        &'p2pd;agent;help;service'= {
        }
        &'p2pd;agent;help;help'= {
        }
        &'p2pd;report'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;publish'= {
            cand --name 'Package name, instead of the one taken from the path (one package only)'
            cand --version 'Package version, instead of the one taken from the path (one package only)'
            cand --groups 'Target only these assigned groups (comma-separated) instead of all assigned groups'
            cand --data-dir 'Data directory of the server (database, key, logs)'
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
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List published content: name, version, size, pieces, targets, time'
            cand show 'Show one content, with its piece hashes in --json'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;content;list'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;content;show'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;content;help'= {
            cand list 'List published content: name, version, size, pieces, targets, time'
            cand show 'Show one content, with its piece hashes in --json'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;content;help;list'= {
        }
        &'p2pd;content;help;show'= {
        }
        &'p2pd;content;help;help'= {
        }
        &'p2pd;groups'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand assign 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups'
            cand unassign 'Unassign groups: their content targets go, their devices'' licenses are released'
            cand list 'List assigned groups with their devices, licenses and contents'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;groups;assign'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;groups;unassign'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;groups;list'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;groups;help'= {
            cand assign 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups'
            cand unassign 'Unassign groups: their content targets go, their devices'' licenses are released'
            cand list 'List assigned groups with their devices, licenses and contents'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;groups;help;assign'= {
        }
        &'p2pd;groups;help;unassign'= {
        }
        &'p2pd;groups;help;list'= {
        }
        &'p2pd;groups;help;help'= {
        }
        &'p2pd;licenses'= {
            cand --format 'Output format'
            cand -o 'Write the report to FILE instead of standard output'
            cand --output 'Write the report to FILE instead of standard output'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;health'= {
            cand --server 'Server URL to check (default: http://SERVER_NAME:PORT from the settings)'
            cand --timeout 'Seconds to wait for the server''s answer'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --deep 'Also re-hash every published package in file storage against its content ID (reads every byte; slow on large libraries)'
            cand --strict 'Treat warnings (such as no-office clients) as failures'
            cand --json 'Print machine-readable JSON instead of a table'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;devices'= {
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List devices: office, group, version, last seen, preferred-device score and state (online, offline, banned)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;devices;list'= {
            cand --format 'Output format'
            cand -o 'Write the list to FILE instead of standard output'
            cand --output 'Write the list to FILE instead of standard output'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;devices;help'= {
            cand list 'List devices: office, group, version, last seen, preferred-device score and state (online, offline, banned)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;devices;help;list'= {
        }
        &'p2pd;devices;help;help'= {
        }
        &'p2pd;generate'= {
            cand --out-dir 'Where to write man/ and completions/'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand -v 'More log output on stderr (-v info, -vv debug)'
            cand --verbose 'More log output on stderr (-v info, -vv debug)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'p2pd;help'= {
            cand install 'Install the server: data dir, database, server ID and shared key'
            cand key 'Show the key fingerprint or regenerate the shared key'
            cand settings 'Show or change server settings'
            cand status 'Show the server ID, key fingerprint, settings and counts'
            cand topology 'Offices and their IP ranges: import, export, show, locate'
            cand demo 'Run a real local distribution: server, 3 offices, 12 agents on loopback'
            cand serve 'Run the server: control plane and central seed'
            cand agent 'Run the peer client on a device, or install it (`agent install`)'
            cand report 'Per office and content: bytes from LAN, parent office, server and CDN; WAN copies'
            cand publish 'Publish packages from file storage: hash, cut in pieces, target groups'
            cand content 'Show published content'
            cand groups 'Assign the groups whose devices receive content through peer distribution'
            cand licenses 'The Activated Licenses report: devices holding a license'
            cand health 'Check the whole system: database, server, key, versions, storage, topology, clock'
            cand devices 'Enrolled devices: office, group, version, score, state'
            cand generate 'Write man pages and shell completions (for packagers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;help;install'= {
        }
        &'p2pd;help;key'= {
            cand fingerprint 'Show the current key''s fingerprint and version (never the key)'
            cand regenerate 'Make a new shared key; the old one stops working everywhere'
        }
        &'p2pd;help;key;fingerprint'= {
        }
        &'p2pd;help;key;regenerate'= {
        }
        &'p2pd;help;settings'= {
            cand show 'Show every setting with its value'
            cand set 'Change one setting (validated; an unknown name lists the valid ones)'
        }
        &'p2pd;help;settings;show'= {
        }
        &'p2pd;help;settings;set'= {
        }
        &'p2pd;help;status'= {
        }
        &'p2pd;help;topology'= {
            cand import 'Import the network topology from a CSV or .xlsx file'
            cand export 'Write the topology as recorded, in the import format'
            cand show 'Draw the office tree with types, ranges, WAN caps and device counts'
            cand locate 'Show which office each address belongs to, or why it has none'
        }
        &'p2pd;help;topology;import'= {
        }
        &'p2pd;help;topology;export'= {
        }
        &'p2pd;help;topology;show'= {
        }
        &'p2pd;help;topology;locate'= {
        }
        &'p2pd;help;demo'= {
        }
        &'p2pd;help;serve'= {
        }
        &'p2pd;help;agent'= {
            cand install 'Deploy the agent on this device: write its configuration, a copy of the key and the p2pd-agent service (a systemd unit; on Windows a service of the service control manager)'
            cand uninstall 'Remove what `agent install` wrote (and stop and delete the Windows service); the data dir is kept'
            cand service 'What the Windows service runs: the agent from the configuration `agent install` wrote, under the service control manager'
        }
        &'p2pd;help;agent;install'= {
        }
        &'p2pd;help;agent;uninstall'= {
        }
        &'p2pd;help;agent;service'= {
        }
        &'p2pd;help;report'= {
        }
        &'p2pd;help;publish'= {
        }
        &'p2pd;help;content'= {
            cand list 'List published content: name, version, size, pieces, targets, time'
            cand show 'Show one content, with its piece hashes in --json'
        }
        &'p2pd;help;content;list'= {
        }
        &'p2pd;help;content;show'= {
        }
        &'p2pd;help;groups'= {
            cand assign 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups'
            cand unassign 'Unassign groups: their content targets go, their devices'' licenses are released'
            cand list 'List assigned groups with their devices, licenses and contents'
        }
        &'p2pd;help;groups;assign'= {
        }
        &'p2pd;help;groups;unassign'= {
        }
        &'p2pd;help;groups;list'= {
        }
        &'p2pd;help;licenses'= {
        }
        &'p2pd;help;health'= {
        }
        &'p2pd;help;devices'= {
            cand list 'List devices: office, group, version, last seen, preferred-device score and state (online, offline, banned)'
        }
        &'p2pd;help;devices;list'= {
        }
        &'p2pd;help;generate'= {
        }
        &'p2pd;help;help'= {
        }
    ]
    $completions[$command]
}
