mkdir -p .git && echo g >.git/HEAD
