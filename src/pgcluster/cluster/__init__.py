"""The protocol every image shares: what a node says about itself, how it is asked, and the rules
all images apply to the answers (who is primary, what a majority is, the recovery handover)."""
