"""yuqing-sentinel (舆情哨兵): public-concern monitoring with legal response deadlines."""

__version__ = "0.1.0"
