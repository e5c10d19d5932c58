# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_p2pd_global_optspecs
    string join \n data-dir= v/verbose h/help V/version
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

complete -c p2pd -n "__fish_p2pd_needs_command" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_needs_command" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_needs_command" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "install" -d 'Install the server: data dir, database, server ID and shared key'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "key" -d 'Show the key fingerprint or regenerate the shared key'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "settings" -d 'Show or change server settings'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "status" -d 'Show the server ID, key fingerprint, settings and counts'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "publish" -d 'Publish packages from file storage: hash, cut in pieces, target groups'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "content" -d 'Show published content'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "groups" -d 'Assign the groups whose devices receive content through peer distribution'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "generate" -d 'Write man pages and shell completions (for packagers)'
complete -c p2pd -n "__fish_p2pd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l server-name -d 'Server name or IP address the agents will connect to' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l port -d 'TCP port of the server' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l file-storage -d 'Package storage: an absolute directory or an http(s) base URL' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l cdn-url -d 'CDN base URL, the last-resort download source' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l regenerate-key -d 'On an existing install: make a new shared key and keep everything else'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -l json -d 'Print the result as JSON (server_id, key, key_fingerprint, data_dir)'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand install" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate help" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate help" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate help" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate help" -f -a "fingerprint" -d 'Show the current key\'s fingerprint and version (never the key)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate help" -f -a "regenerate" -d 'Make a new shared key; the old one stops working everywhere'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and not __fish_seen_subcommand_from fingerprint regenerate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from fingerprint" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from regenerate" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "fingerprint" -d 'Show the current key\'s fingerprint and version (never the key)'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "regenerate" -d 'Make a new shared key; the old one stops working everywhere'
complete -c p2pd -n "__fish_p2pd_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set help" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set help" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set help" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set help" -f -a "show" -d 'Show every setting with its value'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set help" -f -a "set" -d 'Change one setting (validated; an unknown name lists the valid ones)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and not __fish_seen_subcommand_from show set help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show every setting with its value'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from help" -f -a "set" -d 'Change one setting (validated; an unknown name lists the valid ones)'
complete -c p2pd -n "__fish_p2pd_using_subcommand settings; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand status" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l name -d 'Package name, instead of the one taken from the path (one package only)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l version -d 'Package version, instead of the one taken from the path (one package only)' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l groups -d 'Target only these assigned groups (comma-separated) instead of all assigned groups' -r
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l all -d 'Publish every package in file storage'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l verify -d 'Hash packages whose size and mtime are unchanged too, and republish any whose bytes changed'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l prune -d 'Withdraw packages no longer in storage and superseded versions'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand publish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show help" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show help" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'List published content: name, version, size, pieces, targets, time'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Show one content, with its piece hashes in --json'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from help" -f -a "list" -d 'List published content: name, version, size, pieces, targets, time'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one content, with its piece hashes in --json'
complete -c p2pd -n "__fish_p2pd_using_subcommand content; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list help" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list help" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list help" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list help" -f -a "assign" -d 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list help" -f -a "unassign" -d 'Unassign groups: their content targets go, their devices\' licenses are released'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list help" -f -a "list" -d 'List assigned groups with their devices, licenses and contents'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and not __fish_seen_subcommand_from assign unassign list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from assign" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from unassign" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON instead of a table'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from help" -f -a "assign" -d 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from help" -f -a "unassign" -d 'Unassign groups: their content targets go, their devices\' licenses are released'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from help" -f -a "list" -d 'List assigned groups with their devices, licenses and contents'
complete -c p2pd -n "__fish_p2pd_using_subcommand groups; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand generate" -l out-dir -d 'Where to write man/ and completions/' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand generate" -l data-dir -d 'Data directory of the server (database, key, logs)' -r -F
complete -c p2pd -n "__fish_p2pd_using_subcommand generate" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug)'
complete -c p2pd -n "__fish_p2pd_using_subcommand generate" -s h -l help -d 'Print help'
complete -c p2pd -n "__fish_p2pd_using_subcommand generate" -s V -l version -d 'Print version'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "install" -d 'Install the server: data dir, database, server ID and shared key'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "key" -d 'Show the key fingerprint or regenerate the shared key'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "settings" -d 'Show or change server settings'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "status" -d 'Show the server ID, key fingerprint, settings and counts'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "publish" -d 'Publish packages from file storage: hash, cut in pieces, target groups'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "content" -d 'Show published content'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "groups" -d 'Assign the groups whose devices receive content through peer distribution'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "generate" -d 'Write man pages and shell completions (for packagers)'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and not __fish_seen_subcommand_from install key settings status publish content groups generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "fingerprint" -d 'Show the current key\'s fingerprint and version (never the key)'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "regenerate" -d 'Make a new shared key; the old one stops working everywhere'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from settings" -f -a "show" -d 'Show every setting with its value'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from settings" -f -a "set" -d 'Change one setting (validated; an unknown name lists the valid ones)'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from content" -f -a "list" -d 'List published content: name, version, size, pieces, targets, time'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from content" -f -a "show" -d 'Show one content, with its piece hashes in --json'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from groups" -f -a "assign" -d 'Assign groups: their devices enroll, take a license and receive content published for all assigned groups'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from groups" -f -a "unassign" -d 'Unassign groups: their content targets go, their devices\' licenses are released'
complete -c p2pd -n "__fish_p2pd_using_subcommand help; and __fish_seen_subcommand_from groups" -f -a "list" -d 'List assigned groups with their devices, licenses and contents'
