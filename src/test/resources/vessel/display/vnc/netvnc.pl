#!/usr/bin/perl
# netvnc.pl HOST PORT PASSWORD_FILE|- CAPTURE.png|- [TEXT [SECONDS_PER_KEY]]
#
# A real RFB client for the tests: Debian's Net::VNC (libnet-vnc-perl), not Vessel's own code. It logs in
# (RFB 3.8; VNC Authentication with the password on PASSWORD_FILE's first line when the server asks for it),
# captures the screen into CAPTURE.png (Imlib2), then types TEXT as a viewer does for a US keyboard: a keysym
# per character, Shift_L pressed around the shifted ones, "\n" as Return, one key every SECONDS_PER_KEY
# (default 0.06: a person types slower; a PS/2 keyboard's queue holds 16 bytes, and a slow guest that has
# not read them loses the next). Prints "typed N keys" at the end.
use strict;
use warnings;
use Net::VNC;
use Time::HiRes qw(sleep);

die "usage: netvnc.pl HOST PORT PASSWORD_FILE|- CAPTURE.png|- [TEXT [SECONDS_PER_KEY]]\n" if @ARGV < 4;
my ($host, $port, $password_file, $png, $text, $per_key) = @ARGV;
$per_key = 0.06 unless defined $per_key;
my $password;
if ($password_file ne '-') {
    open my $f, '<', $password_file or die "cannot read $password_file: $!\n";
    $password = <$f>;
    chomp $password;
}
my $vnc = Net::VNC->new({hostname => $host, port => $port, password => $password, hide_cursor => 1});
$vnc->depth(24);
$vnc->login;
print "logged in to '", $vnc->name, "' ", $vnc->width, "x", $vnc->height, "\n";
if ($png ne '-') {
    $vnc->capture->save($png);
    print "captured $png\n";
}
my $keys = 0;
my $shifted = qr/[A-Z~!@#\$%^&*()_+{}|:"<>?]/;
foreach my $c (split //, defined $text ? $text : '') {
    my $keysym = $c eq "\n" ? 0xff0d : ord $c;
    my $shift = $c =~ $shifted;
    $vnc->send_key_event_down(0xffe1) if $shift;
    $vnc->send_key_event($keysym);
    $vnc->send_key_event_up(0xffe1) if $shift;
    $keys++;
    sleep $per_key;
}
# Key events have no reply; TCP hands the server every byte before the end of the stream.
$vnc->socket->close;
print "typed $keys keys\n";
