#!/usr/bin/python3
"""browser.py: the upload page in a real browser. Headless Chromium (driven by chromium-driver
through python3-selenium) loads GET / from husky --serve on loopback, checks that the page shows
the model's SHA-256, uploads a husky picture through the file picker, and waits until the page
shows the class, the probability and the upload's SHA-256, which must be what POST /predict
answers for the same file. A screenshot goes to /tmp/serve-page.png (SERVE_SCREENSHOT= to change).
Exits 77 (skipped) when chromium, its driver or selenium is missing.
usage: browser.py HUSKY SOURCE_ROOT"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

husky, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print('selenium is not installed: skipped')
    sys.exit(77)
chromium = shutil.which('chromium') or '/usr/bin/chromium'
driver_path = shutil.which('chromedriver') or '/usr/bin/chromedriver'
if not (os.path.exists(chromium) and os.path.exists(driver_path)):
    print('chromium or chromedriver is missing: skipped')
    sys.exit(77)

work = tempfile.mkdtemp()
passed = failed = 0
server = driver = None
pic = os.path.join(root, 'data/validation/husky/52c46188291f7439.jpg')
shot = os.environ.get('SERVE_SCREENSHOT', '/tmp/serve-page.png')


def check(name, ok):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print('FAIL:', name, flush=True)


def api_predict(port):
    """POST /predict of pic with urllib: the JSON answer."""
    boundary = uuid.uuid4().hex
    data = open(pic, 'rb').read()
    body = (b'--' + boundary.encode() + b'\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
            b'Content-Type: image/jpeg\r\n\r\n' + data + b'\r\n--' + boundary.encode() + b'--\r\n')
    req = urllib.request.Request('http://127.0.0.1:%d/predict' % port, data=body, method='POST',
                                 headers={'Content-Type': 'multipart/form-data; boundary=' + boundary})
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.load(r)


try:
    model = os.path.join(work, 'm.hkm')
    subprocess.run([husky, '-e', 'seed 1; threads 1; model new input=32x32x3; conv2d 4 3x3 activation=relu; '
                    'maxpool 2x2; flatten; dense 1 activation=sigmoid; compile optimizer=adam lr=0.01; '
                    'data train %s/data/train; train epochs=2 batch=16 class_weight=balanced; wait; model save %s'
                    % (root, model)], check=True, stdout=subprocess.DEVNULL, timeout=120)
    out = open(os.path.join(work, 'server.out'), 'w+')
    server = subprocess.Popen([husky, '--serve', model, 'port=0', 'rate=off', 'audit=off'], stdout=out,
                              stderr=subprocess.STDOUT)
    port = 0
    for _ in range(100):
        out.seek(0)
        text = out.read()
        if text.startswith('serving'):
            port = int(text.split('http://127.0.0.1:')[1].split('/')[0])
            break
        time.sleep(0.1)
    check('server starts', port > 0)
    model_sha = hashlib.sha256(open(model, 'rb').read()).hexdigest()
    want = api_predict(port)

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage', '--window-size=900,1000',
                 '--user-data-dir=' + os.path.join(work, 'profile')):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(30)
    driver.get('http://127.0.0.1:%d/' % port)
    wait = WebDriverWait(driver, 30)
    check('the page title', driver.title == 'Husky AI')
    wait.until(EC.text_to_be_present_in_element((By.ID, 'model'), model_sha[:16]))
    check('the page shows the model SHA-256', driver.find_element(By.ID, 'model').text == model_sha)
    driver.find_element(By.ID, 'file').send_keys(pic)
    wait.until(EC.text_to_be_present_in_element((By.ID, 'upload'), want['upload_sha256'][:16]))
    cls = driver.find_element(By.ID, 'class').text
    prob = driver.find_element(By.ID, 'probability').text
    verdict = driver.find_element(By.ID, 'verdict').text
    check('the page shows the class (%s; the API says %s)' % (cls, want['class']), cls == want['class'])
    check('the page shows the probability (%s)' % prob, prob == '%.4f' % want['probability'])
    check('the page shows the blog\'s text (%s)' % verdict, verdict == want['text'])
    shown = driver.execute_script('const i = document.getElementById("preview");'
                                  'return i.complete && i.naturalWidth > 0 && i.style.display === "block";')
    check('the page shows the picture', shown)
    errors = [e for e in driver.get_log('browser') if e.get('level') == 'SEVERE']
    check('no errors in the browser console (%s)' % errors, not errors)
    driver.save_screenshot(shot)
    check('screenshot written to ' + shot, os.path.getsize(shot) > 1000)
    print('page: class %s, probability %s, "%s"; screenshot %s' % (cls, prob, verdict, shot))
finally:
    if driver:
        driver.quit()
    if server:
        server.terminate()
        server.wait(timeout=20)
    shutil.rmtree(work, ignore_errors=True)
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
