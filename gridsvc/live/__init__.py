"""Who is patrolling now: the live snapshot of open patrol sessions and their last positions (issue 21)."""
