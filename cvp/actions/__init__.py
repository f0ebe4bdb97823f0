"""From scores to decisions: reasons, the playbook, the retention budget plan."""
