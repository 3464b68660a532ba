# bash completion for fieldsync(1): commands, subcommands, options and the
# values they take.  Installed as .../bash-completion/completions/fieldsync,
# where bash-completion loads it on first use; it needs nothing from
# bash-completion itself, so `source`-ing it by hand works too.

# The options of one command ("GROUP SUB" or "GROUP"), without the ones
# every command takes.
_fieldsync_options()
{
    case $1 in
        sync) echo --wait ;;
        "work-orders list")
            echo --status --customer --technician --from --to --page --per-page ;;
        "work-orders create")
            echo --customer --description --priority --scheduled --technician --contact --set ;;
        "work-orders update")
            echo --status --description --priority --scheduled --technician --set ;;
        "customers list")
            echo --search --status --branch --created-after --page --per-page ;;
        "customers create") echo --name --email --phone --branch --set ;;
        "customers update") echo --name --status --email --phone --set ;;
        "contacts list" | "assets list") echo --page --per-page ;;
        "contacts create" | "contacts update") echo --name --title --email --phone --set ;;
        conflicts | "conflicts list") echo --open ;;
        "conflicts resolve") echo --keep ;;
    esac
}

# The subcommands of a command group; nothing for a command without them.
_fieldsync_subcommands()
{
    case $1 in
        work-orders | customers) echo list show create update delete ;;
        contacts) echo list show create update delete ;;
        assets) echo list ;;
        outbox) echo list retry discard ;;
        conflicts) echo list show resolve ;;
    esac
}

_fieldsync()
{
    local commands="status sync work-orders customers contacts assets outbox conflicts watch help"
    local common="--json --socket --help"
    local cur=${COMP_WORDS[COMP_CWORD]} prev="" opt="" i w cmd="" sub="" helping=""
    local -a args=()

    # bash splits "--socket=PATH" into "--socket" "=" "PATH".
    if ((COMP_CWORD >= 1)); then prev=${COMP_WORDS[COMP_CWORD - 1]}; fi
    if [[ $cur == = ]]; then
        opt=$prev
        cur=""
    elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
        opt=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $prev == --* ]]; then
        opt=$prev
    fi

    # Find the command and subcommand, stepping over options and their values.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            --json | --wait | --open | -h | --help | -V | --version) continue ;;
            =) ((i++)); continue ;;
            -*)
                [[ ${COMP_WORDS[i + 1]} == = ]] || ((i++))
                continue ;;
        esac
        if [[ -z $cmd ]]; then
            cmd=$w
        elif [[ $cmd == help ]]; then
            helping=1
            args+=("$w")
        elif [[ -z $sub && -n $(_fieldsync_subcommands "$cmd") ]]; then
            sub=$w
        else
            args+=("$w")
        fi
    done

    # The value of an option.
    case $opt in
        --socket)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return ;;
        --status)
            if [[ $cmd == customers ]]; then
                mapfile -t COMPREPLY < <(compgen -W "active inactive" -- "$cur")
            else
                mapfile -t COMPREPLY < <(compgen -W "draft open assigned in_progress on_hold completed cancelled" -- "$cur")
            fi
            return ;;
        --priority)
            mapfile -t COMPREPLY < <(compgen -W "low medium high urgent" -- "$cur")
            return ;;
        --keep)
            mapfile -t COMPREPLY < <(compgen -W "local remote" -- "$cur")
            return ;;
        --customer | --technician | --from | --to | --page | --per-page | --description | \
        --scheduled | --set | --contact | --search | --branch | --created-after | --name | \
        --email | --phone | --title)
            COMPREPLY=()
            return ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "--socket --json --help --version" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        fi
        return
    fi
    if [[ $cmd == help ]]; then
        if [[ -z $helping ]]; then
            mapfile -t COMPREPLY < <(compgen -W "${commands% help}" -- "$cur")
        elif ((${#args[@]} == 1)); then
            mapfile -t COMPREPLY < <(compgen -W "$(_fieldsync_subcommands "${args[0]}")" -- "$cur")
        fi
        return
    fi
    if [[ -z $sub && $cur != -* ]]; then
        local subs
        subs=$(_fieldsync_subcommands "$cmd")
        if [[ -n $subs ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
            return
        fi
    fi
    if [[ $cur == -* ]]; then
        local key=$cmd
        [[ -n $sub ]] && key="$cmd $sub"
        mapfile -t COMPREPLY < <(compgen -W "$(_fieldsync_options "$key") $common" -- "$cur")
        return
    fi
    COMPREPLY=()
}

complete -F _fieldsync fieldsync
