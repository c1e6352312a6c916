# bash completion for mailferry: commands, each command's options, and plan files (jobs/*.json5 first).
_mailferry_plans() {
    local files
    if compgen -G "jobs/*.json5" >/dev/null 2>&1 && [[ $cur != */* ]]; then
        files=$(compgen -f -X '!*.json5' -- "jobs/$cur"; compgen -f -X '!*.json5' -- "$cur")
    else
        files=$(compgen -f -X '!*.json5' -- "$cur")
    fi
    COMPREPLY+=($(compgen -W "$files" -- "$cur"))
    COMPREPLY+=($(compgen -d -S / -- "$cur"))
    compopt -o nospace 2>/dev/null
}

_mailferry() {
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    }
    local commands="run check status verify backup route adopt init help --version --help -h"
    if [[ $cword -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    local command=${words[1]} options=""
    case $command in
        run) options="--parallel --shard --quiet -q --dry-run -n --no-progress --verbose -v --trace --timestamps
                      --log-format --new-state --rebind --help -h" ;;
        check) options="--parallel --json --offline --help -h" ;;
        status) options="--json --html --state --help -h" ;;
        verify) options="--json --parallel --state --help -h" ;;
        backup) options="--shard --force --help -h" ;;
        route) options="--dry-run --mailbox --limit --help -h" ;;
        adopt) options="--parallel --shard --help -h" ;;
        init) options="--help -h" ;;
        help) COMPREPLY=($(compgen -W "run check status verify backup route adopt init" -- "$cur")); return ;;
        --version) COMPREPLY=($(compgen -W "--verbose" -- "$cur")); return ;;
        *) return ;;
    esac
    case $prev in
        --timestamps) COMPREPLY=($(compgen -W "always never auto" -- "$cur")); return ;;
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --trace | --state) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --parallel | --shard | --limit | --mailbox | --rebind) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    elif [[ $command == init ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    else
        _mailferry_plans
    fi
}
complete -F _mailferry mailferry
