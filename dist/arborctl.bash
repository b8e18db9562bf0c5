# SPDX-License-Identifier: BSD-2-Clause
# Bash completion for arborctl: commands, options, and the paths of the
# running tree (from `arborctl status --json`).

_arborctl_paths() {
	local sock=()
	[ -n "$1" ] && sock=(-s "$1")
	arborctl "${sock[@]}" status --json 2>/dev/null |
		grep -o '"path":"[^"]*"' | cut -d'"' -f4
}

_arborctl() {
	local cur prev words cword sock= i cmd=
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local commands="status start stop restart pause resume signal start-child terminate-child reload events logs metrics trace shutdown"

	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s) sock=${COMP_WORDS[i + 1]}; ((i++)) ;;
		-*) ;;
		*) [ -z "$cmd" ] && cmd=${COMP_WORDS[i]} ;;
		esac
	done
	if [ "$prev" = -s ] || [ "$prev" = -o ]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "-s $commands" -- "$cur"))
		return
	fi
	case $cmd in
	status)
		COMPREPLY=($(compgen -W "--json $(_arborctl_paths "$sock")" -- "$cur")) ;;
	start | stop | restart | pause | resume | terminate-child | start-child)
		COMPREPLY=($(compgen -W "$(_arborctl_paths "$sock")" -- "$cur")) ;;
	signal)
		if [ "$prev" = signal ]; then
			COMPREPLY=($(compgen -W "$(_arborctl_paths "$sock")" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "HUP INT QUIT KILL USR1 USR2 TERM CONT STOP" -- "$cur"))
		fi ;;
	events) COMPREPLY=($(compgen -W "--follow" -- "$cur")) ;;
	logs)
		[ "$prev" = -n ] && return
		COMPREPLY=($(compgen -W "-n --follow $(_arborctl_paths "$sock")" -- "$cur")) ;;
	trace) COMPREPLY=($(compgen -W "--duration -o" -- "$cur")) ;;
	esac
}
complete -F _arborctl arborctl
