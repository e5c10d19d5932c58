
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
            cand publish 'Publish packages from file storage: hash, cut in pieces, target groups'
            cand content 'Show published content'
            cand groups 'Assign the groups whose devices receive content through peer distribution'
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
            cand publish 'Publish packages from file storage: hash, cut in pieces, target groups'
            cand content 'Show published content'
            cand groups 'Assign the groups whose devices receive content through peer distribution'
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
        &'p2pd;help;generate'= {
        }
        &'p2pd;help;help'= {
        }
    ]
    $completions[$command]
}
