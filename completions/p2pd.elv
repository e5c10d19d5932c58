
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
            cand generate 'Write man pages and shell completions (for packagers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'p2pd;install'= {
            cand --server-name 'Server name or IP address the agents will connect to'
            cand --port 'TCP port of the server'
            cand --file-storage 'Package storage: an absolute directory or an http(s) base URL'
            cand --cdn-url 'CDN base URL, the last-resort download source'
            cand --data-dir 'Data directory of the server (database, key, logs)'
            cand --regenerate-key 'On an existing install: make a new shared key and keep everything else'
            cand --json 'Print the result as JSON (server_id, key, key_fingerprint, data_dir)'
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
        &'p2pd;help;generate'= {
        }
        &'p2pd;help;help'= {
        }
    ]
    $completions[$command]
}
