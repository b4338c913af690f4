"""The shared layer every app imports: domain errors and how they become responses, markdown, charts,
form parsing, the base management command and the user type. It imports no app of the project."""
