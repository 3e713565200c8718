"""The governance-centre map: gathers features from the database and hands them to maps/."""
