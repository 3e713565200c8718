"""The landing page `/`: the zone's figures for zone-wide roles, a welcome page for the station roles."""
