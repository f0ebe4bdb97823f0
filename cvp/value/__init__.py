"""Customer value assessment: RFM, composite value index, tiers, lifecycle stages."""
