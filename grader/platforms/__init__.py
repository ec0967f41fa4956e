"""Adapters for grading platforms: Gradescope's autograder and GitHub Classroom's workflow."""
