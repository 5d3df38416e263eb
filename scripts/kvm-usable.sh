# Sourced (bash): kvm_usable succeeds when /dev/kvm exists and opens read-write, the one test of "this host
# has KVM" that the launcher, the tests, the AOT training, the benchmarks and CI share.
# -c first: a bare <> redirection would create /dev/kvm as a file when it is missing.
kvm_usable() { [ -c /dev/kvm ] && ( exec 3<>/dev/kvm ) 2>/dev/null; }
