#!/bin/sh
# Starts a single-node SLURM on this machine (Debian's slurm-wlm and munge, as root), so that the
# "live SLURM" test of tests/sweep_test.ts runs instead of being skipped:
#   sh tests/tools/slurm_single_node.sh && ./dbal test -A tests/sweep_test.ts --filter "live SLURM"
# It writes /etc/slurm/slurm.conf for one node named after this host with its CPUs and memory.
set -eu
command -v slurmctld >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq slurm-wlm >/dev/null; }
mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
chown munge:munge /run/munge 2>/dev/null || true
pgrep -x munged >/dev/null || /usr/sbin/munged --force
node=$(slurmd -C | head -1 | sed 's/RealMemory=[0-9]*//')
mem=$(( $(slurmd -C | head -1 | sed 's/.*RealMemory=\([0-9]*\).*/\1/') * 9 / 10 ))
host=$(hostname)
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=dbal-test
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
$node RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
sleep 2
sinfo
