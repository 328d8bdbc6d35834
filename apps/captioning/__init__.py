"""Image captioning (one-to-many): Show, Attend and Tell on our recurrent layers."""

NAME = "captioning"
