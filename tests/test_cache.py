"""The Redis cache backend (config.cache): Django's, with one redis-py client per pool instead of one per call."""
from django.core.cache import cache


def test_the_redis_cache_works_and_reuses_one_client(settings):
    assert settings.CACHES["default"]["BACKEND"] == "config.cache.RedisCache"
    client = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is client  # one server: reads and writes share it
    cache.set("verdict-test:n", 1, 30)
    assert cache.incr("verdict-test:n") == 2
    assert cache.add("verdict-test:n", 5) is False
    cache.set_many({"verdict-test:a": [1.5, 2.5], "verdict-test:b": "x"}, 30)
    assert cache.get_many(["verdict-test:a", "verdict-test:b"]) == {"verdict-test:a": [1.5, 2.5], "verdict-test:b": "x"}
    cache.delete_many(["verdict-test:n", "verdict-test:a", "verdict-test:b"])
    assert cache.get("verdict-test:n") is None
