"""MediaPipe Hands as an fsbench plugin: a keypoint backbone and two landmark-based methods.

`mediapipe-hands` (backbone) localises 21 hand landmarks; `mediapipe-landmarks` embeds the
normalised landmarks with the core dual-path head; `mediapipe-geometric` compares them directly
(nearest prototype, no training) so the head's gain is visible. Images where no hand is found
are reported through `valid_mask`, never silently dropped.
"""

__version__ = "0.1.0"
