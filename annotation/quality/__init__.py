"""Quality control: agreement, annotator statistics, disputes, adjudication, adaptive overlap."""
