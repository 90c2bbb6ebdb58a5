"""What the scripts share: flags turned into arguments, and clean error reporting."""
