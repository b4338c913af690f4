"""The model registry: every model version Coach knows (a base, an SFT model, a reward model...).

It sits below labeling, so candidates and later chats, drafts and evaluation votes hold real foreign
keys to model versions. What a model was trained on is recorded by trainer_bridge beside the job that
made it (trainer_bridge's ModelOrigin), so this app imports no other app of the project."""
