"""The operator dashboard (issue 15, item 3) in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``make tools`` installs) driven by Selenium against a running stack.

A stack of its own with heartbeats of a second, so a failed cluster is noticed in seconds; the tests run in
order on it: the seed sample as the page shows it, a scale made from the page, then a cluster failure.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.cli.demo import sample_path
from fedstate.cli.localstack import LocalStack

from .invariants import FAST_FAILURE
from .state_log import running

SAMPLE = "multicloudmongodb-sample"
INSTANCE = f'[data-instance="default/{SAMPLE}"]'
WAIT_SECONDS = 60  # how long the page may take to show what the stack did (a bound, not a speed claim)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("dashboard"), FAST_FAILURE) as local:
        local.cli("apply", "-f", str(sample_path().resolve()))
        local.wait_for_state(SAMPLE, "Health")
        yield local


def chromium() -> WebDriver:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.fail("the dashboard tests need Debian's chromium and chromium-driver: run `make tools`")
    options = webdriver.ChromeOptions()
    options.binary_location = browser  # both paths given: Selenium Manager downloads nothing
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,900"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(driver))


@pytest.fixture(scope="module")
def page(seeded: LocalStack) -> Iterator[WebDriver]:
    """The dashboard, loaded once: every test after the first sees it update without a reload."""
    driver = chromium()
    try:
        driver.get(seeded.gateway.base_url + "/")
        log_in(driver, seeded)
        driver.execute_script("window.loadedOnce = true")  # gone if the page ever reloads
        yield driver
    finally:
        driver.quit()


def log_in(driver: WebDriver, stack: LocalStack) -> None:
    """The page asks for a token first, refuses a wrong one, and takes the one ``fedstate up`` made."""
    form = shown(driver, "the login form", lambda d: d.find_element(By.ID, "login").get_attribute("open") is not None)
    assert form
    assert not driver.find_elements(By.CSS_SELECTOR, "#clusters tr")  # nothing is shown before
    field = driver.find_element(By.ID, "login-token")
    field.send_keys("fst_000000000000_wrong")
    driver.find_element(By.ID, "login-submit").click()
    shown(driver, "the refusal", lambda d: "not valid" in d.find_element(By.ID, "login-error").text)
    assert stack.gateway.token is not None
    field.clear()
    field.send_keys(stack.gateway.token)
    driver.find_element(By.ID, "login-submit").click()
    shown(driver, "the login form closed", lambda d: d.find_element(By.ID, "login").get_attribute("open") is None)
    assert driver.get_cookies()[0]["httpOnly"]


def shown(driver: WebDriver, what: str, found: Callable[[WebDriver], Any]) -> Any:
    """What ``found`` returns once it is truthy; fails naming ``what`` if the page never shows it."""
    # The page redraws a panel on each event: an element read as it is replaced is looked for again.
    wait = WebDriverWait(
        driver,
        WAIT_SECONDS,
        poll_frequency=0.2,
        ignored_exceptions=[NoSuchElementException, StaleElementReferenceException],
    )
    try:
        return wait.until(found)
    except TimeoutException:
        raise AssertionError(f"the page did not show {what}") from None


def instance(driver: WebDriver) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, INSTANCE)


def cluster_health(driver: WebDriver) -> dict[str, str]:
    """cluster → its health as the clusters panel shows it, read in one go (the panel redraws every second)."""
    script = "return [...document.querySelectorAll('#clusters tr[data-cluster]')].map(r => [r.dataset.cluster, r.dataset.health])"
    return dict(driver.execute_script(script))


def never_reloaded_on_one_stream(driver: WebDriver) -> None:
    assert driver.execute_script("return window.loadedOnce === true"), "the page was reloaded"
    assert "1" == driver.find_element(By.TAG_NAME, "body").get_attribute("data-streams-opened")
    assert "live" == driver.find_element(By.ID, "stream").get_attribute("data-state")


def answer_confirmation(driver: WebDriver, button: str, expected_question: str) -> None:
    dialog = shown(
        driver, "the confirmation", lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None
    )
    assert dialog
    assert expected_question in driver.find_element(By.ID, "confirm-question").text
    driver.find_element(By.ID, button).click()


def test_the_page_shows_the_seed_sample_health_with_its_2_2_1_layout(page: WebDriver) -> None:
    shown(page, "the sample Health", lambda d: instance(d).get_attribute("data-state") == "Health")
    card = instance(page)
    assert "2+2+1" == card.get_attribute("data-layout")
    roles = [row.get_attribute("data-role") for row in card.find_elements(By.CSS_SELECTOR, "tr[data-role]")]
    assert ["PRIMARY", "SECONDARY", "SECONDARY", "SECONDARY", "SECONDARY"] == sorted(roles)  # type: ignore[type-var]
    primary = card.find_element(By.CSS_SELECTOR, 'tr[data-role="PRIMARY"]')
    assert card.get_attribute("data-primary-cluster") == primary.get_attribute("data-member-cluster")
    assert {"member-1": "Ready", "member-2": "Ready", "member-3": "Ready"} == cluster_health(page)
    shown(page, "the placement explanation", lambda d: "placed 5 members" in instance(d).text)
    shown(
        page,
        "the StateHealth event",
        lambda d: d.find_elements(By.CSS_SELECTOR, '#events tr[data-reason="StateHealth"]'),
    )
    never_reloaded_on_one_stream(page)


def test_a_scale_from_the_page_takes_effect_after_its_confirmation(page: WebDriver, seeded: LocalStack) -> None:
    def ask_for(members: int) -> None:
        field = shown(
            page, "the sample's member count", lambda d: instance(d).find_element(By.CSS_SELECTOR, "input.replicas")
        )
        field.clear()
        field.send_keys(str(members))
        instance(page).find_element(By.CSS_SELECTOR, "button.scale").click()

    ask_for(3)
    answer_confirmation(page, "confirm-cancel", f"Scale default/{SAMPLE} from 5 to 3 members?")
    assert page.find_element(By.ID, "confirm").get_attribute("open") is None
    unchanged = seeded.gateway.find_object(MULTICLOUD_MONGODB, "default", SAMPLE)
    assert unchanged is not None and unchanged.spec is not None
    assert (5, 1) == (unchanged.spec["replicaset"], unchanged.metadata["generation"])

    ask_for(3)
    answer_confirmation(page, "confirm-ok", f"Scale default/{SAMPLE} from 5 to 3 members?")
    shown(page, "the scaled layout", lambda d: instance(d).get_attribute("data-layout") == "1+1+1")
    shown(page, "the scaled sample Health", lambda d: instance(d).get_attribute("data-state") == "Health")
    status = seeded.wait_for_state(SAMPLE, "Health")
    assert 3 == len(status["externalAddr"].split(","))
    scaled = seeded.gateway.find_object(MULTICLOUD_MONGODB, "default", SAMPLE)
    assert scaled is not None and 2 == scaled.metadata["generation"], "one confirmed scale, one spec change"
    never_reloaded_on_one_stream(page)


def test_a_failed_cluster_shows_on_the_page_without_a_reload(page: WebDriver, seeded: LocalStack) -> None:
    failed = "member-3"
    seeded.cli("sim", "fail", failed)
    try:
        shown(page, f"{failed} Unreachable", lambda d: cluster_health(d).get(failed) == "Unreachable")
        assert "Ready" == cluster_health(page)["member-1"]
        topology = f'{INSTANCE} tr[data-member-cluster="{failed}"]'
        shown(
            page,
            f"{failed} Unreachable in the topology",
            lambda d: "Unreachable" in d.find_element(By.CSS_SELECTOR, topology).text,
        )
        never_reloaded_on_one_stream(page)
    finally:
        seeded.cli("sim", "recover", failed)
    shown(page, f"{failed} Ready again", lambda d: cluster_health(d).get(failed) == "Ready")


def test_a_delete_from_the_page_removes_the_instance_after_its_confirmation(
    page: WebDriver, seeded: LocalStack
) -> None:
    shown(page, "the sample", lambda d: instance(d).find_element(By.CSS_SELECTOR, "button.delete")).click()
    answer_confirmation(page, "confirm-ok", f"Delete default/{SAMPLE}?")
    shown(page, "the sample gone", lambda d: not d.find_elements(By.CSS_SELECTOR, INSTANCE))
    assert seeded.gateway.find_object(MULTICLOUD_MONGODB, "default", SAMPLE) is None
    never_reloaded_on_one_stream(page)
