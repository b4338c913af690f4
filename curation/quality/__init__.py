"""Quality of labels: agreement between labelers, consensus rankings, gold answers and labeler scores."""
