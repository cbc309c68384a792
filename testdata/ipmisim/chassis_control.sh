#!/bin/sh
# chassis_control program for ipmi_sim (see lan.conf.tmpl). lan.conf names it
# with its first argument, and ipmi_sim appends the operation:
#   chassis_control.sh STATEFILE get power|boot ...
#   chassis_control.sh STATEFILE set power 0|1 reset 1 boot <v> ...
# The power state lives in STATEFILE ("1" on, "0" off); "get" prints parm:value.
state=$1
shift || exit 1
op=$1
shift
case $op in
get)
	for p in "$@"; do
		case $p in
		power)
			v=$(cat "$state" 2>/dev/null)
			echo "power:${v:-1}"
			;;
		boot) echo "boot:default" ;;
		*) echo "Invalid parameter: $p"; exit 1 ;;
		esac
	done
	;;
set)
	while [ $# -gt 0 ]; do
		p=$1
		v=$2
		[ $# -ge 2 ] || { echo "No value present for parameter $p"; exit 1; }
		shift 2
		case $p in
		power) echo "$v" >"$state" ;;
		reset | boot) ;;
		identify) [ $# -gt 0 ] && shift ;;
		*) echo "Invalid parameter: $p"; exit 1 ;;
		esac
	done
	;;
*)
	# "check" is not supported for chassis control.
	exit 1
	;;
esac
