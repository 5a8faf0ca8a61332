"""Break-fix exercises: a hidden fault on the running lab, its symptom, hints, and a grade from the lab's checks."""
