"""SIP calls into conferences: routing an INVITE, dialogs, the calls' participants, media legs in the mixer."""
